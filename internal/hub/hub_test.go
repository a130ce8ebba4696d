package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func entry(t testing.TB, ms, seq uint64, ch string) alarm.Entry {
	t.Helper()
	tail, err := alarm.EncodeTail(ch, "ev", json.RawMessage(`{"n":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return alarm.NewEntry(protocol.ID{MS: ms, Seq: seq}, ch, tail)
}

func newHub(t testing.TB, window, queue int) *Hub {
	t.Helper()
	h, err := New(Config{NodeID: "n1", Window: window, QueueLen: queue}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// sink is a Conn whose "writer" is synchronous: tests drain it with drain.
type sink struct {
	c      *Conn
	mu     sync.Mutex
	closed protocol.CloseCode // the code Conn.Close got; 0 before
}

func newSink(h *Hub, channels ...string) *sink {
	s := &sink{}
	s.c = h.NewConn(channels, func() {}, func(code protocol.CloseCode, _ string) {
		s.mu.Lock()
		s.closed = code
		s.mu.Unlock()
	})
	return s
}

// drain returns the types/ids of every queued message and whether the
// queue overflowed.
func (s *sink) drain(t *testing.T) (got []string, overflow bool) {
	t.Helper()
	for {
		msgs, of, ok := s.c.Queue.Take()
		if of {
			return got, true
		}
		if !ok {
			return got, false
		}
		for _, m := range msgs {
			var v struct {
				Type, ID string
				Resume   struct{ Status string }
			}
			if err := json.Unmarshal(m, &v); err != nil {
				t.Fatalf("bad message %s: %v", m, err)
			}
			if v.Type == "welcome" {
				got = append(got, "welcome:"+v.Resume.Status)
			} else {
				got = append(got, v.ID)
			}
		}
	}
}

func TestRegisterStatuses(t *testing.T) {
	h := newHub(t, 3, 10)
	h.Reset("E", []alarm.Entry{entry(t, 10, 0, "a"), entry(t, 11, 0, "b"), entry(t, 12, 0, "a")}, protocol.MustParseID("9-5"))
	h.Apply(entry(t, 13, 0, "a")) // evicts 10-0
	tests := []struct {
		name     string
		r        Resume
		status   protocol.Status
		position string
		replay   []string
	}{
		{"new", Resume{}, protocol.StatusNew, "13-0", nil},
		{"resumed", Resume{LastID: protocol.MustParseID("11-0"), HasLastID: true}, protocol.StatusResumed, "11-0", []string{"12-0", "13-0"}},
		{"resumed at evicted", Resume{LastID: protocol.MustParseID("10-0"), HasLastID: true, Epoch: "E"}, protocol.StatusResumed, "10-0", []string{"12-0", "13-0"}},
		{"resumed at tip", Resume{LastID: protocol.MustParseID("13-0"), HasLastID: true}, protocol.StatusResumed, "13-0", nil},
		{"expired", Resume{LastID: protocol.MustParseID("9-9"), HasLastID: true}, protocol.StatusExpired, "13-0", nil},
		{"zero expired", Resume{LastID: protocol.Zero, HasLastID: true}, protocol.StatusExpired, "13-0", nil},
		{"ahead", Resume{LastID: protocol.MustParseID("14-0"), HasLastID: true}, protocol.StatusEpochChanged, "13-0", nil},
		{"other epoch", Resume{LastID: protocol.MustParseID("12-0"), HasLastID: true, Epoch: "X"}, protocol.StatusEpochChanged, "13-0", nil},
		{"invalid", Resume{Invalid: true}, protocol.StatusInvalid, "13-0", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSink(h, "a")
			defer h.Unregister(s.c)
			w := h.Register(s.c, tt.r)
			if w.Status != tt.status || w.Position.String() != tt.position || w.Replayed != len(tt.replay) {
				t.Fatalf("welcome = %+v, want %s at %s with %d", w, tt.status, tt.position, len(tt.replay))
			}
			got, _ := s.drain(t)
			want := append([]string{"welcome:" + string(tt.status)}, tt.replay...)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("queued %v, want %v", got, want)
			}
		})
	}
}

func TestZeroResumesEverythingWhenNothingEvicted(t *testing.T) {
	h := newHub(t, 10, 10)
	h.Reset("E", []alarm.Entry{entry(t, 1, 0, "a"), entry(t, 2, 0, "b")}, protocol.Zero)
	s := newSink(h, "a", "b")
	if w := h.Register(s.c, Resume{HasLastID: true}); w.Status != protocol.StatusResumed || w.Replayed != 2 {
		t.Fatalf("welcome %+v", w)
	}
}

func TestLiveAfterSnapshotInOrderAndFiltered(t *testing.T) {
	h := newHub(t, 100, 100)
	h.Reset("E", nil, protocol.Zero)
	for i := uint64(1); i <= 5; i++ {
		h.Apply(entry(t, i, 0, []string{"a", "b", "c"}[i%3]))
	}
	s := newSink(h, "a", "b")
	h.Register(s.c, Resume{LastID: protocol.MustParseID("2-0"), HasLastID: true})
	for i := uint64(6); i <= 9; i++ {
		h.Apply(entry(t, i, 0, []string{"a", "b", "c"}[i%3]))
	}
	if h.Apply(entry(t, 9, 0, "a")) || h.Apply(entry(t, 3, 0, "a")) {
		t.Fatal("duplicate or old alarm applied")
	}
	got, _ := s.drain(t)
	want := "[welcome:resumed 3-0 4-0 6-0 7-0 9-0]"
	if fmt.Sprint(got) != want {
		t.Fatalf("got %v want %s", got, want)
	}
}

func TestOverflowMarksQueue(t *testing.T) {
	h := newHub(t, 100, 2)
	h.Reset("E", nil, protocol.Zero)
	s := newSink(h, "a")
	h.Register(s.c, Resume{})
	for i := uint64(1); i <= 4; i++ {
		h.Apply(entry(t, i, 0, "a"))
	}
	if _, overflow := s.drain(t); !overflow {
		t.Fatal("queue should have overflowed")
	}
}

func TestResetNewEpochCloses(t *testing.T) {
	h := newHub(t, 10, 10)
	h.Reset("E1", []alarm.Entry{entry(t, 5, 0, "a")}, protocol.Zero)
	s := newSink(h, "a")
	h.Register(s.c, Resume{})
	if n := h.Reset("E1", nil, protocol.MustParseID("5-0")); n != 0 {
		t.Fatalf("same epoch closed %d", n)
	}
	if n := h.Reset("E2", nil, protocol.Zero); n != 1 || s.closed != protocol.CloseRestart || h.Len() != 0 {
		t.Fatalf("closed %d code %d len %d", n, s.closed, h.Len())
	}
	ep, applied := h.State()
	if ep != "E2" || applied != protocol.Zero {
		t.Fatalf("state %s %v", ep, applied)
	}
}

func TestWaitApplied(t *testing.T) {
	h := newHub(t, 10, 10)
	h.Reset("E", nil, protocol.Zero)
	done := make(chan error)
	go func() { done <- h.WaitApplied(context.Background(), protocol.MustParseID("3-0")) }()
	h.Apply(entry(t, 2, 0, "a"))
	h.Apply(entry(t, 3, 0, "a"))
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := h.WaitApplied(ctx, protocol.MustParseID("4-0")); err != context.Canceled {
		t.Fatalf("err %v", err)
	}
}

func TestWindowIndexManyChannels(t *testing.T) {
	h := newHub(t, 50, 1000)
	h.Reset("E", nil, protocol.Zero)
	for i := uint64(1); i <= 500; i++ {
		h.Apply(entry(t, i, 0, fmt.Sprintf("user:%d", i%7)))
	}
	s := newSink(h, "user:3", "user:5")
	w := h.Register(s.c, Resume{LastID: protocol.MustParseID("460-0"), HasLastID: true})
	got, _ := s.drain(t)
	var want []string
	for i := 461; i <= 500; i++ {
		if i%7 == 3 || i%7 == 5 {
			want = append(want, fmt.Sprintf("%d-0", i))
		}
	}
	if w.Replayed != len(want) || strings.Join(got[1:], ",") != strings.Join(want, ",") {
		t.Fatalf("got %v want %v", got, want)
	}
	if len(h.win.byChan) > 7 {
		t.Fatalf("index leaks channels: %d", len(h.win.byChan))
	}
}

func TestConcurrentApplyAndRegister(t *testing.T) {
	h := newHub(t, 1000, 100000)
	h.Reset("E", nil, protocol.Zero)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := uint64(1); i <= 2000; i++ {
			h.Apply(entry(t, i, 0, "a"))
		}
	}()
	sinks := make([]*sink, 20)
	for i := range sinks {
		sinks[i] = newSink(h, "a")
		h.Register(sinks[i].c, Resume{HasLastID: true, LastID: protocol.Zero})
	}
	wg.Wait()
	for _, s := range sinks {
		got, _ := s.drain(t)
		// Each connection sees a contiguous, strictly increasing run ending at 2000-0.
		if len(got) < 2 || got[len(got)-1] != "2000-0" {
			t.Fatalf("tail %v", got[len(got)-1:])
		}
		prev := protocol.Zero
		for _, g := range got[1:] {
			id := protocol.MustParseID(g)
			if id.MS != prev.MS+1 && !prev.IsZero() {
				t.Fatalf("gap or reorder after %v: %v", prev, id)
			}
			prev = id
		}
	}
}

func TestResetSameEpochDeliversNewEntries(t *testing.T) {
	h := newHub(t, 10, 10)
	s := newSink(h, "a")
	h.Register(s.c, Resume{}) // before anything was loaded: position 0-0
	h.Reset("E", []alarm.Entry{entry(t, 1, 0, "a"), entry(t, 2, 0, "b"), entry(t, 3, 0, "a")}, protocol.Zero)
	got, _ := s.drain(t)
	if fmt.Sprint(got) != "[welcome:new 1-0 3-0]" {
		t.Fatalf("got %v", got)
	}
}

package hub

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// fakeBackfill answers ReadAfter from a list of alarms; during a read it
// runs during (to apply live alarms while the read is in flight).
type fakeBackfill struct {
	epoch    string
	alarms   []alarm.Entry // the channels' whole retained backlogs, ascending
	floor    protocol.ID   // highest id that may be missing
	err      error
	during   func()
	channels []string // what the last read asked for
	reads    int
}

func (f *fakeBackfill) ReadAfter(_ context.Context, channels []string, after protocol.ID) (string, []alarm.Entry, bool, error) {
	f.reads++
	f.channels = channels
	if f.during != nil {
		f.during()
	}
	if f.err != nil {
		return "", nil, false, f.err
	}
	var out []alarm.Entry
	for _, e := range f.alarms {
		if after.Less(e.ID) && slices.Contains(channels, e.Channel) {
			out = append(out, e)
		}
	}
	return f.epoch, out, !after.Less(f.floor), nil
}

// deepHub returns a hub whose window (3 alarms) holds only the newest of
// the 10 alarms 1..10 on "a", and backlogs holding all of them plus one
// on "b".
func deepHub(t *testing.T) (*Hub, *fakeBackfill) {
	t.Helper()
	h := newHub(t, 3, 100)
	var all []alarm.Entry
	for i := uint64(1); i <= 10; i++ {
		all = append(all, entry(t, i, 0, "a"))
	}
	all = append(all, entry(t, 10, 1, "b"))
	h.Reset("E", all[7:10], protocol.ID{MS: 7})
	return h, &fakeBackfill{epoch: "E", alarms: all}
}

func TestResumeDeep(t *testing.T) {
	tests := []struct {
		name   string
		last   string
		floor  protocol.ID
		err    error
		epoch  string
		want   []string
		reads  int
		errIs  error
		status protocol.Status
	}{
		{name: "inside the window: no read", last: "8-0", want: []string{"welcome:resumed", "9-0", "10-0", "11-0"}, status: protocol.StatusResumed},
		{name: "from the backlogs", last: "5-0", reads: 1, status: protocol.StatusResumed,
			want: []string{"welcome:resumed", "6-0", "7-0", "8-0", "9-0", "10-0", "11-0"}},
		{name: "zero: all retained", last: "0-0", floor: protocol.ID{MS: 3}, reads: 1, status: protocol.StatusResumed,
			want: []string{"welcome:resumed", "1-0", "2-0", "3-0", "4-0", "5-0", "6-0", "7-0", "8-0", "9-0", "10-0", "11-0"}},
		{name: "backlog trimmed after last_id", last: "2-0", floor: protocol.ID{MS: 3}, reads: 1,
			status: protocol.StatusExpired, want: []string{"welcome:expired", "11-0"}},
		{name: "read fails", last: "2-0", err: errors.New("down"), reads: 1, errIs: errors.New("down")},
		{name: "epoch moved", last: "2-0", epoch: "F", reads: 1, errIs: ErrEpochChanged},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, hist := deepHub(t)
			hist.floor, hist.err = tt.floor, tt.err
			if tt.epoch != "" {
				hist.epoch = tt.epoch
			}
			s := newSink(h, "a")
			// A live alarm applied while the read is in flight waits behind
			// the replay; one at or below the registration point cannot come.
			hist.during = func() { h.Apply(entry(t, 11, 0, "a")) }
			if tt.reads == 0 {
				h.Apply(entry(t, 11, 0, "a"))
			}
			w, err := h.Resume(context.Background(), s.c, Resume{LastID: protocol.MustParseID(tt.last), HasLastID: true}, hist)
			if hist.reads != tt.reads {
				t.Fatalf("%d backfill reads, want %d", hist.reads, tt.reads)
			}
			if tt.errIs != nil {
				if err == nil || (errors.Is(tt.errIs, ErrEpochChanged) && !errors.Is(err, ErrEpochChanged)) {
					t.Fatalf("err %v, want %v", err, tt.errIs)
				}
				if h.Len() != 0 {
					t.Fatal("connection still registered after a failed read")
				}
				return
			}
			got, overflow := s.drain(t)
			if err != nil || overflow || w.Status != tt.status || !slices.Equal(got, tt.want) {
				t.Fatalf("status %s err %v overflow %v\n got %v\nwant %v", w.Status, err, overflow, got, tt.want)
			}
			if w.Status == protocol.StatusResumed && w.Position.String() != tt.last {
				t.Fatalf("position %s, want %s", w.Position, tt.last)
			}
		})
	}
}

// TestResumeDeepNoBackfill: without a backfill a resume older than
// the window is expired, as Register answers.
func TestResumeDeepNoBackfill(t *testing.T) {
	h, _ := deepHub(t)
	s := newSink(h, "a")
	w, err := h.Resume(context.Background(), s.c, Resume{LastID: protocol.MustParseID("2-0"), HasLastID: true}, nil)
	if err != nil || w.Status != protocol.StatusExpired {
		t.Fatalf("%+v %v", w, err)
	}
}

// TestQueueReplayOutsideLimit: a replay longer than the queue limit is
// delivered whole, and a live alarm after it is not counted against it
// (it used to close the connection with 4029 before its welcome).
func TestQueueReplayOutsideLimit(t *testing.T) {
	_, hist := deepHub(t)
	h2 := newHub(t, 3, 2) // queue limit 2, replay of 9
	h2.Reset("E", hist.alarms[7:10], protocol.ID{MS: 7})
	s := newSink(h2, "a")
	w, err := h2.Resume(context.Background(), s.c, Resume{LastID: protocol.MustParseID("1-0"), HasLastID: true}, hist)
	if err != nil || w.Replayed != 9 {
		t.Fatalf("%+v %v", w, err)
	}
	h2.Apply(entry(t, 11, 0, "a"))
	got, overflow := s.drain(t)
	if overflow || len(got) != 11 || got[10] != "11-0" {
		t.Fatalf("overflow %v got %v", overflow, got)
	}
}

// countingBackfill is a fakeBackfill that also reads inbox counts.
type countingBackfill struct {
	fakeBackfill
	counts protocol.Counts
	err    error
	asked  []string
	live   func() // runs during the read
}

func (c *countingBackfill) Counts(_ context.Context, channel string) (protocol.Counts, bool, error) {
	c.asked = append(c.asked, channel)
	if c.live != nil {
		c.live()
	}
	return c.counts, c.err == nil, c.err
}

// TestResumeWelcomeCounts: a connection with an inbox gets the counts in
// its welcome, on the window path and the deep path; a failed read leaves
// them out without failing the resume; live alarms that arrive during the
// read follow the welcome.
func TestResumeWelcomeCounts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		last   protocol.ID
		err    error
		inbox  string
		status protocol.Status
		want   *protocol.Counts
	}{
		{"window", protocol.ID{MS: 9}, nil, "a", protocol.StatusResumed, &protocol.Counts{Unread: 3, Unseen: 1}},
		{"deep", protocol.ID{MS: 2}, nil, "a", protocol.StatusResumed, &protocol.Counts{Unread: 3, Unseen: 1}},
		{"read fails", protocol.ID{MS: 9}, errors.New("down"), "a", protocol.StatusResumed, nil},
		{"no inbox", protocol.ID{MS: 9}, nil, "", protocol.StatusResumed, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, fh := deepHub(t)
			hist := &countingBackfill{fakeBackfill: *fh, counts: protocol.Counts{Unread: 3, Unseen: 1}, err: tc.err}
			c := h.NewConn([]string{"a"}, func() {}, func(protocol.CloseCode, string) {})
			c.Inbox = tc.inbox
			live := entry(t, 11, 0, "a")
			hist.live = func() { h.Apply(live) }
			w, err := h.Resume(context.Background(), c, Resume{LastID: tc.last, HasLastID: true}, hist)
			if err != nil || w.Status != tc.status {
				t.Fatalf("Resume = %+v, %v", w, err)
			}
			if (w.Inbox == nil) != (tc.want == nil) || (w.Inbox != nil && *w.Inbox != *tc.want) {
				t.Fatalf("welcome inbox %+v, want %+v", w.Inbox, tc.want)
			}
			if tc.inbox != "" && (len(hist.asked) != 1 || hist.asked[0] != "a") {
				t.Fatalf("counts asked for %v", hist.asked)
			}
			msgs, _, ok := c.Queue.Take()
			if !ok || len(msgs) == 0 || !strings.Contains(string(msgs[0]), `"type":"welcome"`) {
				t.Fatalf("queue %q", msgs)
			}
			if got := strings.Contains(string(msgs[0]), `"inbox":{"unread":3,"unseen":1}`); got != (tc.want != nil) {
				t.Fatalf("welcome %s", msgs[0])
			}
			if tc.inbox != "" && (len(msgs) != 2+w.Replayed || string(msgs[len(msgs)-1]) != string(live.Frame)) {
				t.Fatalf("the live alarm does not follow the welcome and replay: %q", msgs)
			}
		})
	}
}

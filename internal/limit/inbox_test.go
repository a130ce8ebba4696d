package limit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// fakeInbox counts its calls; a change may be held until release.
type fakeInbox struct {
	mu      sync.Mutex // guards the fields below
	changes int
	reads   int
	hold    chan struct{} // when set, ChangeState waits for it to close
	started chan struct{} // when set, ChangeState signals each start
}

func (f *fakeInbox) ChangeState(context.Context, string, protocol.StateChange) (stream.StateResult, error) {
	f.mu.Lock()
	f.changes++
	n, hold, started := f.changes, f.hold, f.started
	f.mu.Unlock()
	if started != nil {
		started <- struct{}{}
	}
	if hold != nil {
		<-hold
	}
	id, _ := protocol.ParseID("1-1")
	return stream.StateResult{ID: id, Changed: 1, Counts: protocol.Counts{Unread: n, Unseen: 9}, Epoch: "e"}, nil
}

func (f *fakeInbox) ReadInbox(context.Context, string, stream.InboxQuery) (stream.Inbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	return stream.Inbox{Epoch: "e"}, nil
}

func (f *fakeInbox) calls() (changes, reads int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.changes, f.reads
}

func newTestInbox(t *testing.T, cfg UserConfig, store InboxStore, clk *fakeClock) (*Inbox, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(nil)
	in, err := NewInbox(cfg, store, m, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return in, m
}

// TestInboxLimitsPerUser: each user has a bucket for changes and one for
// reads; beyond it a call is refused with a *LimitedError and its wait,
// before the store, and counted.
func TestInboxLimitsPerUser(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	store := &fakeInbox{}
	in, m := newTestInbox(t, UserConfig{StateRate: 10, StateBurst: 3, InboxReadRate: 2, InboxReadBurst: 2}, store, clk)
	ctx := context.Background()
	change := func(user string, i int) error {
		_, err := in.ChangeState(ctx, user, protocol.StateChange{Op: protocol.OpRead, IDs: []string{string(rune('a' + i))}})
		return err
	}
	for i := range 3 {
		if err := change("user:a", i); err != nil {
			t.Fatalf("change %d of the burst: %v", i, err)
		}
	}
	err := change("user:a", 3)
	var limited *LimitedError
	if !errors.As(err, &limited) || !errors.Is(err, ErrLimited) || limited.Wait != 100*time.Millisecond {
		t.Fatalf("change beyond the burst: %v, want a *LimitedError of 100ms", err)
	}
	if err := change("user:b", 0); err != nil {
		t.Fatalf("another user: %v", err)
	}
	for i := range 2 {
		if _, err := in.ReadInbox(ctx, "user:a", stream.InboxQuery{}); err != nil {
			t.Fatalf("read %d: %v (reads have their own bucket)", i, err)
		}
	}
	if _, err := in.ReadInbox(ctx, "user:a", stream.InboxQuery{}); !errors.As(err, &limited) || limited.Wait != 500*time.Millisecond {
		t.Fatalf("read beyond the burst: %v", err)
	}
	if changes, reads := store.calls(); changes != 4 || reads != 2 {
		t.Fatalf("the store saw %d changes and %d reads, want 4 and 2", changes, reads)
	}
	if got := testutil.ToFloat64(m.Limited.WithLabelValues(metrics.LimitStateRate)); got != 1 {
		t.Errorf("limited{state_rate} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Limited.WithLabelValues(metrics.LimitInboxReadRate)); got != 1 {
		t.Errorf("limited{inbox_read_rate} = %v, want 1", got)
	}
	clk.advance(100 * time.Millisecond)
	if err := change("user:a", 4); err != nil {
		t.Fatalf("after the wait: %v", err)
	}
}

// TestInboxDefaultsAndUnlimited: zero fields take the defaults; a
// negative rate does not limit.
func TestInboxDefaultsAndUnlimited(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	in, _ := newTestInbox(t, UserConfig{}, &fakeInbox{}, clk)
	n := 0
	for ; n < 1000; n++ {
		if _, err := in.ReadInbox(context.Background(), "user:a", stream.InboxQuery{}); err != nil {
			break
		}
	}
	if n != DefaultUserInboxReadBurst {
		t.Fatalf("default read burst %d, want %d", n, DefaultUserInboxReadBurst)
	}
	in, _ = newTestInbox(t, UserConfig{StateRate: -1, InboxReadRate: -1}, &fakeInbox{}, clk)
	for i := range 1000 {
		if _, err := in.ReadInbox(context.Background(), "user:a", stream.InboxQuery{}); err != nil {
			t.Fatalf("read %d with no limit: %v", i, err)
		}
		if _, err := in.ChangeState(context.Background(), "user:a", protocol.StateChange{Op: protocol.OpRead, UpTo: "1-1"}); err != nil {
			t.Fatalf("change %d with no limit: %v", i, err)
		}
	}
	if _, err := NewInbox(UserConfig{}, nil, nil, nil); err == nil {
		t.Fatal("NewInbox accepted a nil store")
	}
	if _, err := NewInbox(UserConfig{StateBurst: -1}, &fakeInbox{}, nil, nil); err == nil {
		t.Fatal("NewInbox accepted a negative burst")
	}
}

// TestInboxCoalescesWaitingRepeats: while a user's change runs, identical
// repeats wait and merge into one call; its first caller gets the store's
// answer, the others the answer of a repeat right after it: changed 0, no
// id, the same counts.
func TestInboxCoalescesWaitingRepeats(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	store := &fakeInbox{hold: make(chan struct{}), started: make(chan struct{}, 10)}
	in, m := newTestInbox(t, UserConfig{StateRate: -1}, store, clk)
	c := protocol.StateChange{Op: protocol.OpRead, IDs: []string{"1-1", "2-1"}}
	ctx := context.Background()
	type answer struct {
		res stream.StateResult
		err error
	}
	const n = 6
	answers := make(chan answer, n)
	ask := func() {
		res, err := in.ChangeState(ctx, "user:a", c)
		answers <- answer{res, err}
	}
	go ask()
	<-store.started // the first runs: the repeats cannot join it
	for range n - 1 {
		go ask()
	}
	waitCallers(t, &in.serial, "user:a", n)
	close(store.hold)
	changed, coalesced := 0, 0
	for range n {
		a := <-answers
		switch {
		case a.err != nil:
			t.Fatal(a.err)
		case a.res.Changed == 1 && !a.res.ID.IsZero():
			changed++
		case a.res.Changed == 0 && a.res.ID.IsZero() && a.res.Counts == (protocol.Counts{Unread: 2, Unseen: 9}) && a.res.Epoch == "e":
			coalesced++
		default:
			t.Fatalf("answer %+v", a.res)
		}
	}
	if calls, _ := store.calls(); calls != 2 || changed != 2 || coalesced != n-2 {
		t.Fatalf("%d store calls, %d changed, %d coalesced; want 2, 2, %d", calls, changed, coalesced, n-2)
	}
	if got := testutil.ToFloat64(m.StateCoalesced); got != n-2 {
		t.Errorf("state_coalesced = %v, want %d", got, n-2)
	}
}

func TestChangeKey(t *testing.T) {
	tests := []struct {
		a, b protocol.StateChange
		same bool
	}{
		{protocol.StateChange{Op: "read", IDs: []string{"1-1"}}, protocol.StateChange{Op: "read", IDs: []string{"1-1"}}, true},
		{protocol.StateChange{Op: "read", IDs: []string{"1-1"}}, protocol.StateChange{Op: "unread", IDs: []string{"1-1"}}, false},
		{protocol.StateChange{Op: "read", IDs: []string{"1-1"}}, protocol.StateChange{Op: "read", UpTo: "1-1"}, false},
		{protocol.StateChange{Op: "read", IDs: []string{"1-1", "2-1"}}, protocol.StateChange{Op: "read", IDs: []string{"1-1\"\"2-1"}}, false},
		{protocol.StateChange{Op: "read", IDs: []string{"1-1", "2-1"}}, protocol.StateChange{Op: "read", IDs: []string{"2-1", "1-1"}}, false},
	}
	for _, tt := range tests {
		if got := changeKey(tt.a) == changeKey(tt.b); got != tt.same {
			t.Errorf("%+v vs %+v: same %v, want %v", tt.a, tt.b, got, tt.same)
		}
	}
}

package pubsub

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// unit is a feed on a fakeStore and a fake clock: no Redis, no waiting for
// tickers (TipInterval is an hour unless a test sets it).
type unit struct {
	store *fakeStore
	clock *fakeClock
	hub   *hub.Hub
	m     *metrics.Metrics
	feed  *Feed
}

func newUnit(t *testing.T, store *fakeStore, cfg Config) *unit {
	t.Helper()
	return newUnitWindow(t, store, cfg, 100)
}

// newUnitWindow is newUnit with a hub of window alarms.
func newUnitWindow(t *testing.T, store *fakeStore, cfg Config, window int) *unit {
	t.Helper()
	u := &unit{store: store, clock: newFakeClock(), m: metrics.New(nil)}
	var err error
	if u.hub, err = hub.New(hub.Config{NodeID: "n", Window: window}, u.m, nil); err != nil {
		t.Fatal(err)
	}
	cfg.NodeID = "n"
	defaults.Set(&cfg.TipInterval, time.Hour)
	cfg.Now = u.clock.Now
	if u.feed, err = New(cfg, store, u.hub, u.m, nil); err != nil {
		t.Fatal(err)
	}
	return u
}

// run starts the feed; it is stopped at cleanup.
func (u *unit) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = u.feed.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// start runs the feed, confirms its first subscription and waits until it
// is ready.
func (u *unit) start(t *testing.T) *fakeSub {
	t.Helper()
	u.run(t)
	sub := u.store.sub(t, 0)
	sub.subscribed(t)
	eventually(t, "ready", u.feed.Ready)
	return sub
}

// flush returns once the feed has handled every event queued on sub so
// far: it queues a probe at a new clock reading and waits for it.
func (u *unit) flush(t *testing.T, sub *fakeSub) {
	t.Helper()
	u.clock.Advance(time.Millisecond)
	want := u.clock.Now().UnixNano()
	sub.probe(t)
	eventually(t, "probe handled", func() bool { return u.feed.lastProbe.Load() == want })
}

// syncNow asks for a sync and waits until it has read the tip.
func (u *unit) syncNow(t *testing.T) {
	t.Helper()
	tips := u.store.count("tip")
	u.feed.SyncNow()
	eventually(t, "tip read", func() bool { return u.store.count("tip") > tips })
}

func (u *unit) applied() protocol.ID { _, a := u.hub.State(); return a }
func (u *unit) epoch() string        { e, _ := u.hub.State(); return e }

// windowIDs returns the ids in the hub's window, oldest first.
func (u *unit) windowIDs() []protocol.ID {
	var ids []protocol.ID
	for _, e := range u.hub.Window() {
		ids = append(ids, e.ID)
	}
	return ids
}

func idsEqual(a, b []protocol.ID) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func entryIDs(es []alarm.Entry) []protocol.ID {
	var ids []protocol.ID
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

// TestUnitStartUp: subscribe first, read the stream only after the
// subscription is confirmed, and report ready only after the load.
func TestUnitStartUp(t *testing.T) {
	tests := []struct {
		name      string
		epoch     string
		alarms    int
		window    int
		wantCalls string
		wantEpoch string
		wantLen   int
	}{
		{"empty, no epoch", "", 0, 100, "subscribe load ensure tip", "e0", 0},
		{"existing log", "e1", 3, 100, "subscribe load tip", "e1", 3},
		{"longer than the window", "e1", 5, 2, "subscribe load tip", "e1", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore(tt.epoch)
			var all []alarm.Entry
			for range tt.alarms {
				all = append(all, store.append(t, "user:1"))
			}
			u := newUnitWindow(t, store, Config{}, tt.window)
			u.run(t)
			sub := store.sub(t, 0)
			u.flush(t, sub)
			if got := callsString(store.callLog()); got != "subscribe" {
				t.Fatalf("calls before the subscription is confirmed: %q", got)
			}
			if u.feed.Ready() || u.epoch() != "" {
				t.Fatal("ready (or loaded) before the subscription is confirmed")
			}
			sub.subscribed(t)
			eventually(t, "ready", u.feed.Ready)
			if got := callsString(store.callLog()); got != tt.wantCalls {
				t.Fatalf("calls %q, want %q", got, tt.wantCalls)
			}
			if u.epoch() != tt.wantEpoch {
				t.Fatalf("epoch %q, want %q", u.epoch(), tt.wantEpoch)
			}
			want := entryIDs(all[len(all)-tt.wantLen:])
			if got := u.windowIDs(); !idsEqual(got, want) {
				t.Fatalf("window %v, want %v", got, want)
			}
			if testutil.CounterValue(t, u.m.Resubscribes) != 1 {
				t.Fatalf("resubscribes %v, want 1", testutil.CounterValue(t, u.m.Resubscribes))
			}
		})
	}
}

// TestUnitNothingAppliedBeforeLoad: live messages that arrive before the
// window is loaded are dropped; the load brings what the stream holds.
func TestUnitNothingAppliedBeforeLoad(t *testing.T) {
	for _, loadFails := range []bool{false, true} {
		name := map[bool]string{false: "load succeeds", true: "first load fails"}[loadFails]
		t.Run(name, func(t *testing.T) {
			store := newFakeStore("e1")
			inStream := store.append(t, "user:1")
			ghost := newEntry(t, protocol.ID{MS: 1000}, "user:1")
			store.setFail("load", loadFails)
			u := newUnit(t, store, Config{})
			u.run(t)
			sub := store.sub(t, 0)
			// Neither applied nor a reason to read the stream before the
			// subscription is confirmed.
			sub.message(t, "e1", inStream)
			sub.message(t, "e1", ghost) // not in the stream: only a premature apply could show it
			u.flush(t, sub)
			if got := callsString(store.callLog()); got != "subscribe" || !u.applied().IsZero() {
				t.Fatalf("calls %q, applied %v before the subscription is confirmed", got, u.applied())
			}
			sub.subscribed(t)
			u.flush(t, sub)
			if loadFails {
				if u.feed.Ready() || !u.applied().IsZero() {
					t.Fatalf("ready %v, applied %v after a failed load", u.feed.Ready(), u.applied())
				}
				calls := callsString(store.callLog())
				sub.message(t, "e1", ghost)
				u.flush(t, sub)
				if got := callsString(store.callLog()); got != calls || !u.applied().IsZero() {
					t.Fatalf("calls %q (before %q), applied %v before any load", got, calls, u.applied())
				}
				store.setFail("load", false)
				u.feed.SyncNow()
			}
			eventually(t, "ready", u.feed.Ready)
			if got, want := u.windowIDs(), []protocol.ID{inStream.ID}; !idsEqual(got, want) {
				t.Fatalf("window %v, want %v", got, want)
			}
		})
	}
}

// TestUnitGapFillPages: a gap is filled page by page until a short page.
func TestUnitGapFillPages(t *testing.T) {
	tests := []struct {
		missing    int
		wantRanges int
	}{{1, 1}, {3, 2}, {7, 3}, {9, 4}}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d missing", tt.missing), func(t *testing.T) {
			store := newFakeStore("e1")
			first := store.append(t, "user:1")
			store.pageSize = 3
			u := newUnit(t, store, Config{})
			u.start(t)
			want := []protocol.ID{first.ID}
			for range tt.missing {
				want = append(want, store.append(t, "user:2").ID)
			}
			u.feed.SyncNow()
			eventually(t, "gap filled", func() bool { return u.applied() == want[len(want)-1] })
			if got := u.windowIDs(); !idsEqual(got, want) {
				t.Fatalf("window %v, want %v", got, want)
			}
			if n := store.count("range"); n != tt.wantRanges {
				t.Fatalf("%d range reads, want %d", n, tt.wantRanges)
			}
			if testutil.CounterValue(t, u.m.GapFills) != 1 || testutil.CounterValue(t, u.m.GapFilled) != float64(tt.missing) {
				t.Fatalf("gap fills %v, filled %v", testutil.CounterValue(t, u.m.GapFills), testutil.CounterValue(t, u.m.GapFilled))
			}
			eventually(t, "ready", u.feed.Ready)
		})
	}
}

// TestUnitRollback: a stream whose newest id is below the applied id lost
// log; the feed rotates the epoch and resets the hub, kicking every
// connection so clients resume into the new log epoch.
func TestUnitRollback(t *testing.T) {
	store := newFakeStore("e1")
	store.append(t, "user:1")
	kept := store.append(t, "user:1")
	store.append(t, "user:1")
	u := newUnit(t, store, Config{})
	u.start(t)
	var kicked atomic.Int64
	c := u.hub.NewConn([]string{"user:1"}, func() {}, func(code protocol.CloseCode, _ string) { kicked.Store(int64(code)) })
	u.hub.Register(c, hub.Resume{})

	store.dropNewest() // a failover to a replica that missed the last write
	before := len(store.callLog())
	u.feed.SyncNow()
	eventually(t, "new epoch", func() bool { return u.epoch() != "e1" })
	if got := callsString(store.callLog()[before:]); got != "tip rotate load" {
		t.Fatalf("calls %q, want %q", got, "tip rotate load")
	}
	if u.epoch() != "rotated-1" || u.applied() != kept.ID {
		t.Fatalf("hub at %s %v, want rotated-1 %v", u.epoch(), u.applied(), kept.ID)
	}
	if kicked.Load() != 1012 || u.hub.Len() != 0 {
		t.Fatalf("kicked with %d, %d connections left", kicked.Load(), u.hub.Len())
	}
	if testutil.CounterValue(t, u.m.EpochRotations) != 1 {
		t.Fatalf("epoch rotations %v", testutil.CounterValue(t, u.m.EpochRotations))
	}
	eventually(t, "ready", u.feed.Ready)
}

// TestUnitEpochChangeInTip: another node rotated the epoch; this one
// follows it (the compare-and-set does not rotate again).
func TestUnitEpochChangeInTip(t *testing.T) {
	store := newFakeStore("e1")
	store.append(t, "user:1")
	u := newUnit(t, store, Config{})
	u.start(t)
	store.replaceLog("e2")
	e := store.append(t, "user:1")
	u.feed.SyncNow()
	eventually(t, "epoch e2", func() bool { return u.epoch() == "e2" })
	if u.applied() != e.ID || store.count("rotate") != 1 || store.currentEpoch() != "e2" {
		t.Fatalf("applied %v (want %v), %d rotations, store epoch %q", u.applied(), e.ID, store.count("rotate"), store.currentEpoch())
	}
	if testutil.CounterValue(t, u.m.EpochRotations) != 1 {
		t.Fatalf("epoch rotations %v", testutil.CounterValue(t, u.m.EpochRotations))
	}
	eventually(t, "ready", u.feed.Ready)
}

// TestUnitLiveMessageEpoch: a live message of the hub's epoch is applied
// directly; one of another epoch is resolved through the stream.
func TestUnitLiveMessageEpoch(t *testing.T) {
	tests := []struct {
		name      string
		newEpoch  string // installed in the store before the message ("": none)
		msgEpoch  string
		inStream  bool // the message's alarm is in the stream
		wantEpoch string
		wantApply bool
		wantSyncs int // tip reads caused by the message
	}{
		{"current epoch", "", "e1", true, "e1", true, 0},
		{"new epoch", "e2", "e2", true, "e2", true, 1},
		{"stale epoch", "", "e0", false, "e1", false, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore("e1")
			store.append(t, "user:1")
			u := newUnit(t, store, Config{})
			sub := u.start(t)
			before, tips := u.applied(), store.count("tip")
			if tt.newEpoch != "" {
				store.replaceLog(tt.newEpoch)
			}
			e := store.append(t, "user:1")
			if !tt.inStream {
				store.dropNewest()
			}
			sub.message(t, tt.msgEpoch, e)
			u.flush(t, sub)
			want := before
			if tt.wantApply {
				want = e.ID
			}
			if u.epoch() != tt.wantEpoch || u.applied() != want {
				t.Fatalf("hub at %s %v, want %s %v", u.epoch(), u.applied(), tt.wantEpoch, want)
			}
			if n := store.count("tip") - tips; n != tt.wantSyncs {
				t.Fatalf("%d tip reads, want %d", n, tt.wantSyncs)
			}
		})
	}
}

// TestUnitFailedSyncThenLive: after a failed gap fill, a live message must
// not move the applied id past the hole. It may retry the sync (at most
// every RetrySync); it is applied only if that sync succeeds.
func TestUnitFailedSyncThenLive(t *testing.T) {
	tests := []struct {
		name       string
		recovered  bool          // the stream is readable again when the message comes
		advance    time.Duration // clock advance before the message
		wantRanges int           // range reads caused by the message
		wantLive   bool          // the message (and the hole) applied
	}{
		{"still failing, retry due", false, 200 * time.Millisecond, 1, false},
		{"recovered, retry not due", true, 0, 0, false},
		{"recovered, retry due", true, 200 * time.Millisecond, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore("e1")
			a := store.append(t, "user:1")
			store.pageSize = 10
			u := newUnit(t, store, Config{RetrySync: 100 * time.Millisecond})
			sub := u.start(t)
			store.setFail("range", true)
			hole := store.append(t, "user:1") // lost on Pub/Sub, and the stream cannot be read
			u.syncNow(t)
			eventually(t, "not ready", func() bool { return !u.feed.Ready() })
			live := store.append(t, "user:1")
			store.setFail("range", !tt.recovered)
			u.clock.Advance(tt.advance)
			ranges := store.count("range")
			sub.message(t, "e1", live)
			u.flush(t, sub)
			if n := store.count("range") - ranges; n != tt.wantRanges {
				t.Fatalf("%d range reads, want %d", n, tt.wantRanges)
			}
			want := []protocol.ID{a.ID}
			if tt.wantLive {
				want = append(want, hole.ID, live.ID)
			}
			if got := u.windowIDs(); !idsEqual(got, want) {
				t.Fatalf("window %v, want %v", got, want)
			}
			store.setFail("range", false)
			u.feed.SyncNow()
			eventually(t, "caught up", func() bool { return u.applied() == live.ID && u.feed.Ready() })
			if got, want := u.windowIDs(), []protocol.ID{a.ID, hole.ID, live.ID}; !idsEqual(got, want) {
				t.Fatalf("window %v, want %v", got, want)
			}
		})
	}
}

// TestUnitReadyNeedsProbe: readiness lapses when the probe has not come
// back within ProbeTimeout, and returns with the next probe.
func TestUnitReadyNeedsProbe(t *testing.T) {
	u := newUnit(t, newFakeStore("e1"), Config{ProbeTimeout: time.Second})
	sub := u.start(t)
	u.clock.Advance(2 * time.Second)
	if u.feed.Ready() {
		t.Fatal("ready with a probe 2s old")
	}
	u.flush(t, sub)
	if !u.feed.Ready() {
		t.Fatal("not ready after the probe came back")
	}
}

// TestUnitProbeLost: when probes stop coming back, the tick tears the
// subscription down and a new one is opened; it resyncs once confirmed.
func TestUnitProbeLost(t *testing.T) {
	store := newFakeStore("e1")
	u := newUnit(t, store, Config{TipInterval: 5 * time.Millisecond, ProbeTimeout: time.Second})
	first := u.start(t)
	eventually(t, "a probe published", func() bool { return store.count("probe") > 0 })
	u.clock.Advance(2 * time.Second) // no probe delivered in that time
	eventually(t, "subscription closed", first.isClosed)
	if u.feed.Ready() {
		t.Fatal("ready after the probe was lost")
	}
	second := store.sub(t, 1)
	e := store.append(t, "user:1") // published while no subscription delivered
	second.subscribed(t)
	eventually(t, "ready again", func() bool { return u.feed.Ready() && u.applied() == e.ID })
	if testutil.CounterValue(t, u.m.Resubscribes) != 2 {
		t.Fatalf("resubscribes %v, want 2", testutil.CounterValue(t, u.m.Resubscribes))
	}
}

// TestUnitReceiveErrorResyncs: a dropped connection makes the node not
// ready; the confirmation after go-redis resubscribes triggers a gap fill.
func TestUnitReceiveErrorResyncs(t *testing.T) {
	store := newFakeStore("e1")
	u := newUnit(t, store, Config{})
	sub := u.start(t)
	sub.fail(t)
	eventually(t, "not ready", func() bool { return !u.feed.Ready() })
	e := store.append(t, "user:1") // missed while disconnected
	sub.subscribed(t)
	eventually(t, "ready", func() bool { return u.feed.Ready() && u.applied() == e.ID })
	if store.count("subscribe") != 1 {
		t.Fatalf("%d subscriptions, want 1 (go-redis reconnects the same one)", store.count("subscribe"))
	}
}

func TestUnitSyncNowNeverBlocks(t *testing.T) {
	u := newUnit(t, newFakeStore("e1"), Config{})
	for range 10 {
		u.feed.SyncNow() // not running: the request is buffered once, then dropped
	}
}

// TestUnitLiveBatch: a message carrying several entries applies them in
// order with no read of the stream; one whose first entry does not follow
// what the node applied is resolved through the stream, all of it.
func TestUnitLiveBatch(t *testing.T) {
	store := newFakeStore("e1")
	first := store.append(t, "user:1")
	u := newUnit(t, store, Config{})
	sub := u.start(t)
	ranges := store.count("range")
	a, b, c := store.append(t, "user:1"), store.append(t, "user:2"), store.append(t, "user:1")
	sub.batch(t, "e1", first.ID, a, b, c)
	u.flush(t, sub)
	if want := []protocol.ID{first.ID, a.ID, b.ID, c.ID}; !idsEqual(u.windowIDs(), want) || store.count("range") != ranges {
		t.Fatalf("window %v (%d range reads), want %v from the message alone", u.windowIDs(), store.count("range")-ranges, want)
	}
	missed := store.append(t, "user:3")
	d, e := store.append(t, "user:1"), store.append(t, "user:2")
	sub.batch(t, "e1", missed.ID, d, e)
	eventually(t, "gap filled", func() bool { return u.applied() == e.ID })
	if want := []protocol.ID{first.ID, a.ID, b.ID, c.ID, missed.ID, d.ID, e.ID}; !idsEqual(u.windowIDs(), want) {
		t.Fatalf("window %v, want %v", u.windowIDs(), want)
	}
}

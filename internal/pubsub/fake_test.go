package pubsub

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// errFake is what a fake call fails with when a test asks it to.
var errFake = fmt.Errorf("fake: %w", stream.ErrUnavailable)

// fakeStore is an in-memory Store: a stream of entries, an epoch, and the
// subscriptions the feed opened. Every call is logged by name, so tests can
// check the order of the feed's Redis calls. All fields are guarded by mu.
type fakeStore struct {
	mu       sync.Mutex
	entries  []alarm.Entry   // the stream, ascending
	epoch    string          // "" while absent
	nextMS   uint64          // ms part of the next appended id
	rotation int             // rotations done, names the next epoch
	calls    []string        // log of calls: "subscribe", "load", "tip", "range", ...
	fail     map[string]bool // call name -> fail it with errFake
	subs     []*fakeSub      // every subscription opened, oldest first
	probes   []string        // payloads of published probes
	pageSize int64           // PageSize; 0: stream.DefaultPageSize
}

func newFakeStore(epoch string) *fakeStore {
	return &fakeStore{epoch: epoch, nextMS: 1, fail: map[string]bool{}}
}

// logLocked records a call and reports whether it is set to fail.
func (s *fakeStore) logLocked(name string) error {
	s.calls = append(s.calls, name)
	if s.fail[name] {
		return errFake
	}
	return nil
}

// setFail makes the named call fail (or succeed again).
func (s *fakeStore) setFail(name string, fail bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[name] = fail
}

// callLog returns a copy of the calls so far.
func (s *fakeStore) callLog() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// count returns how often the named call was made.
func (s *fakeStore) count(name string) int {
	n := 0
	for _, c := range s.callLog() {
		if c == name {
			n++
		}
	}
	return n
}

// newEntry returns an alarm with id on channel.
func newEntry(t *testing.T, id protocol.ID, channel string) alarm.Entry {
	t.Helper()
	tail, err := alarm.EncodeTail(channel, "e", nil)
	if err != nil {
		t.Fatal(err)
	}
	return alarm.NewEntry(id, channel, tail)
}

// append adds an alarm on channel to the stream (without delivering it)
// and returns it.
func (s *fakeStore) append(t *testing.T, channel string) alarm.Entry {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	e := newEntry(t, protocol.ID{MS: s.nextMS}, channel)
	s.nextMS++
	s.entries = append(s.entries, e)
	return e
}

// currentEpoch returns the stored epoch.
func (s *fakeStore) currentEpoch() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.epoch
}

// dropNewest deletes the newest entry, as a failover to a replica that
// missed the last write.
func (s *fakeStore) dropNewest() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entries = s.entries[:len(s.entries)-1]
}

// replaceLog installs a new epoch over an empty stream, as another
// node that rotated after losing the log.
func (s *fakeStore) replaceLog(epoch string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.epoch, s.entries = epoch, nil
}

// sub returns the i-th subscription, waiting for it to be opened.
func (s *fakeStore) sub(t *testing.T, i int) *fakeSub {
	t.Helper()
	var sub *fakeSub
	eventually(t, fmt.Sprintf("subscription %d", i), func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		if len(s.subs) > i {
			sub = s.subs[i]
		}
		return sub != nil
	})
	return sub
}

func (s *fakeStore) Subscribe(_ context.Context, nodeID string) Subscription {
	s.mu.Lock()
	defer s.mu.Unlock()
	_ = s.logLocked("subscribe")
	sub := &fakeSub{nodeID: nodeID, events: make(chan received, 16), closed: make(chan struct{}),
		failing: func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.fail["receive"] }}
	s.subs = append(s.subs, sub)
	return sub
}

func (s *fakeStore) Probe(_ context.Context, _, payload string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.logLocked("probe"); err != nil {
		return err
	}
	s.probes = append(s.probes, payload)
	return nil
}

func (s *fakeStore) Follow(_ context.Context, after protocol.ID, count int64) (stream.Page, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.logLocked("range"); err != nil {
		return stream.Page{}, err
	}
	found := after.IsZero()
	var page stream.Page
	for _, e := range s.entries {
		if e.ID == after {
			found = true
		}
		if after.Less(e.ID) && int64(page.Read) < count {
			page.Entries = append(page.Entries, e)
			page.Read++
			page.Last = e.ID
		}
	}
	// The fake's entries name no predecessor: a gone applied entry cannot
	// be proven to be followed, as in the real store.
	page.Diverged = !found
	if page.Diverged {
		page.Entries, page.Read, page.Last = nil, 0, protocol.Zero
	}
	return page, nil
}

func (s *fakeStore) Timeout() time.Duration { return stream.DefaultTimeout }

func (s *fakeStore) PageSize() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pageSize == 0 {
		return stream.DefaultPageSize
	}
	return s.pageSize
}

func (s *fakeStore) Tip(context.Context) (stream.Tip, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.logLocked("tip"); err != nil {
		return stream.Tip{}, err
	}
	return s.tipLocked(), nil
}

func (s *fakeStore) tipLocked() stream.Tip {
	tip := stream.Tip{Epoch: s.epoch}
	if len(s.entries) > 0 {
		tip.Newest = s.entries[len(s.entries)-1].ID
	}
	return tip
}

// LoadWindow returns the newest n entries; evicted is the id before the
// first one returned when older entries exist, else Zero.
func (s *fakeStore) LoadWindow(_ context.Context, n int) ([]alarm.Entry, protocol.ID, stream.Tip, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.logLocked("load"); err != nil {
		return nil, protocol.Zero, stream.Tip{}, err
	}
	es := s.entries[max(0, len(s.entries)-n):]
	evicted := protocol.Zero
	if len(es) < len(s.entries) {
		evicted = es[0].ID.Prev()
	}
	return append([]alarm.Entry(nil), es...), evicted, s.tipLocked(), nil
}

func (s *fakeStore) EnsureEpoch(context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.logLocked("ensure"); err != nil {
		return "", err
	}
	if s.epoch == "" {
		s.epoch = "e0"
	}
	return s.epoch, nil
}

// RotateEpoch is a compare-and-set like the real one: a rotation from an
// epoch that is no longer current returns the current one unchanged.
func (s *fakeStore) RotateEpoch(_ context.Context, old string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.logLocked("rotate"); err != nil {
		return "", err
	}
	if s.epoch == "" || s.epoch == old {
		s.rotation++
		s.epoch = fmt.Sprintf("rotated-%d", s.rotation)
	}
	return s.epoch, nil
}

// fakeSub is a Subscription the test drives: each helper queues one event
// for the feed's receive goroutine.
type fakeSub struct {
	nodeID    string
	failing   func() bool // every Receive fails at once (the store's "receive" is set to fail)
	events    chan received
	closed    chan struct{}
	closeOnce sync.Once
}

func (s *fakeSub) Receive(ctx context.Context) (Event, error) {
	if s.failing() {
		return Event{}, errFake
	}
	select {
	case r := <-s.events:
		return r.ev, r.err
	case <-s.closed:
		return Event{}, errors.New("fake: subscription closed")
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

func (s *fakeSub) Close() error {
	s.closeOnce.Do(func() { close(s.closed) })
	return nil
}

func (s *fakeSub) isClosed() bool {
	select {
	case <-s.closed:
		return true
	default:
		return false
	}
}

func (s *fakeSub) send(t *testing.T, r received) {
	t.Helper()
	select {
	case s.events <- r:
	case <-time.After(5 * time.Second):
		t.Fatal("fake subscription: event not taken")
	}
}

// subscribed delivers the confirmation of both channels.
func (s *fakeSub) subscribed(t *testing.T) {
	t.Helper()
	s.send(t, received{ev: Event{Kind: EventSubscribed}})
}

// message delivers e from epoch on the live channel.
func (s *fakeSub) message(t *testing.T, epoch string, e alarm.Entry) {
	t.Helper()
	s.send(t, received{ev: Event{Kind: EventMessage, Payload: epoch + "\n" + string(e.Frame)}})
}

// batch delivers es, consecutive in the log after pred, from epoch in one
// live message, as a publish script call sends them.
func (s *fakeSub) batch(t *testing.T, epoch string, pred protocol.ID, es ...alarm.Entry) {
	t.Helper()
	payload := epoch + "\n" + pred.String()
	for _, e := range es {
		payload += "\n" + string(e.Frame)
	}
	s.send(t, received{ev: Event{Kind: EventMessage, Payload: payload}})
}

// probe delivers the node's probe.
func (s *fakeSub) probe(t *testing.T) {
	t.Helper()
	s.send(t, received{ev: Event{Kind: EventProbe, Payload: "1"}})
}

// fail delivers a receive error (a dropped connection).
func (s *fakeSub) fail(t *testing.T) {
	t.Helper()
	s.send(t, received{err: errFake})
}

// fakeClock is a settable clock for Config.Now.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// callsString joins a call log for messages and comparisons.
func callsString(calls []string) string { return strings.Join(calls, " ") }

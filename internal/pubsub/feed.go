package pubsub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// Store is what the feed reads and subscribes to: the log reads of the
// stream store (every key and channel name is built there) and the live
// subscription with its probes. *Redis implements it.
type Store interface {
	// Subscribe subscribes to the live channel and nodeID's probe channel.
	Subscribe(ctx context.Context, nodeID string) Subscription
	// Probe publishes payload on nodeID's probe channel.
	Probe(ctx context.Context, nodeID, payload string) error
	// Follow reads a page of the log after an id and says whether the
	// log still continues from it.
	Follow(ctx context.Context, after protocol.ID, count int64) (stream.Page, error)
	Tip(ctx context.Context) (stream.Tip, error)
	LoadWindow(ctx context.Context, n int) ([]alarm.Entry, protocol.ID, stream.Tip, error)
	EnsureEpoch(ctx context.Context) (string, error)
	RotateEpoch(ctx context.Context, old string) (string, error)
	// Timeout bounds each Redis call of the feed (the store's call
	// timeout; a reload gets four).
	Timeout() time.Duration
	// PageSize is the COUNT of each Follow page in a gap fill.
	PageSize() int64
}

// Defaults applied by New to zero Config fields.
const (
	DefaultTipInterval  = time.Second
	DefaultProbeTimeout = 5 * time.Second
	DefaultRetrySync    = 100 * time.Millisecond
	// DefaultOutageReminder is how often a Redis outage is logged again
	// while it lasts.
	DefaultOutageReminder = 30 * time.Second
)

// Config configures a Feed. The window it loads is the hub's
// (hub.Hub.WindowSize), its Redis call timeout and gap-fill page the
// store's (Store.Timeout, Store.PageSize): each has one home.
type Config struct {
	// NodeID names the node's probe channel. Required.
	NodeID string
	// TipInterval is how often the stream's newest id is compared with the
	// applied id (and a probe is published). Default 1s.
	TipInterval time.Duration
	// ProbeTimeout is how long the subscription may go without delivering
	// the node's own probe before it is torn down and recreated, and the
	// node reports not ready. Default 5s.
	ProbeTimeout time.Duration
	// RetrySync is the least time between sync attempts prompted by live
	// messages while the node is not caught up. Default 100ms.
	RetrySync time.Duration
	// OutageReminder is how often the feed logs again that Redis (or the
	// subscription) is still failing: it logs one line when that starts,
	// one when it ends, and this reminder in between, not a line per
	// failed call. Default DefaultOutageReminder (30s).
	OutageReminder time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// Feed keeps a hub current with the stream. Run it in one goroutine;
// Ready and SyncNow are safe from any goroutine.
type Feed struct {
	cfg   Config
	store Store
	hub   *hub.Hub
	m     *metrics.Metrics
	log   *slog.Logger
	syncs chan struct{} // SyncNow requests, buffer 1

	loaded     atomic.Bool  // the window was loaded at least once
	subscribed atomic.Bool  // both channels are subscribed
	caughtUp   atomic.Bool  // the last tip check found nothing missing
	lastProbe  atomic.Int64 // unix nanos of the last probe received

	// fields below are owned by the Run goroutine
	probeSeq uint64
	lastSync time.Time // start of the last sync attempt
	redis    *outage   // Redis commands: probes, tip checks, loads, gap fills
	sub      *outage   // the subscription's connection
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c Config) Validate() error {
	return errors.Join(
		defaults.Required("NodeID", c.NodeID != ""),
		defaults.Min("TipInterval", c.TipInterval, time.Millisecond),
		defaults.Min("ProbeTimeout", c.ProbeTimeout, time.Millisecond),
		defaults.NonNegative("RetrySync", c.RetrySync),
		defaults.NonNegative("OutageReminder", c.OutageReminder),
	)
}

func (c *Config) applyDefaults() {
	defaults.Set(&c.TipInterval, DefaultTipInterval)
	defaults.Set(&c.ProbeTimeout, DefaultProbeTimeout)
	defaults.Set(&c.RetrySync, DefaultRetrySync)
	defaults.Set(&c.OutageReminder, DefaultOutageReminder)
}

// New validates cfg and returns a Feed for hub.
func New(cfg Config, store Store, h *hub.Hub, m *metrics.Metrics, log *slog.Logger) (*Feed, error) {
	if store == nil || h == nil {
		return nil, errors.New("pubsub: store and hub are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("pubsub: invalid config: %w", err)
	}
	cfg.applyDefaults()
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	f := &Feed{cfg: cfg, store: store, hub: h, m: m, log: log, syncs: make(chan struct{}, 1)}
	f.redis = &outage{lost: "pubsub: lost Redis", still: "pubsub: Redis still unreachable", back: "pubsub: Redis back",
		log: log, now: cfg.Now, remind: cfg.OutageReminder}
	// A subscription that fails while Redis commands fail too is the same
	// outage; alone, it is announced once it has lasted a probe timeout
	// (a reconnect is routine: the gap fill covers it).
	f.sub = &outage{lost: "pubsub: subscription failing", still: "pubsub: subscription still failing",
		back: "pubsub: subscription back", log: log, now: cfg.Now, remind: cfg.OutageReminder,
		grace: cfg.ProbeTimeout, quiet: func() bool { return f.redis.down }}
	return f, nil
}

// Ready reports whether the node can prove it is current: the window is
// loaded, both channels are subscribed, the last tip check succeeded and
// found nothing missing, and the node's own probe came back recently.
func (f *Feed) Ready() bool {
	if !f.loaded.Load() || !f.subscribed.Load() || !f.caughtUp.Load() {
		return false
	}
	age := f.cfg.Now().Sub(time.Unix(0, f.lastProbe.Load()))
	return age <= f.cfg.ProbeTimeout
}

// Status is a snapshot of what Ready is made of, for operators.
type Status struct {
	Loaded, Subscribed, CaughtUp bool
	// LastProbeAge is the time since the node's own probe last came back;
	// negative if it never did.
	LastProbeAge time.Duration
	Epoch        string
	Applied      protocol.ID
}

// Status returns the feed's readiness inputs and the hub's position. Safe
// from any goroutine.
func (f *Feed) Status() Status {
	st := Status{Loaded: f.loaded.Load(), Subscribed: f.subscribed.Load(), CaughtUp: f.caughtUp.Load(), LastProbeAge: -1}
	if p := f.lastProbe.Load(); p != 0 {
		st.LastProbeAge = f.cfg.Now().Sub(time.Unix(0, p))
	}
	st.Epoch, st.Applied = f.hub.State()
	return st
}

// SyncNow asks for an immediate tip check and gap fill, for example
// because a client resumed from an id the node has not applied yet. It
// never blocks.
func (f *Feed) SyncNow() {
	select {
	case f.syncs <- struct{}{}:
	default:
	}
}

// Run subscribes and keeps the hub current until ctx is done. It recreates
// the subscription when it stops proving itself; it returns nil when ctx
// ends.
func (f *Feed) Run(ctx context.Context) error {
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		start := f.cfg.Now()
		err := f.session(ctx)
		f.subscribed.Store(false)
		if ctx.Err() != nil {
			break
		}
		if f.redis.down {
			f.sub.failed(err) // part of the Redis outage already logged
		} else {
			f.log.Warn("pubsub: subscription ended, recreating", "err", err)
		}
		if f.cfg.Now().Sub(start) > 10*time.Second {
			backoff = 100 * time.Millisecond
		}
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, 2*time.Second)
	}
	return nil
}

var errProbeLost = errors.New("pubsub: probe not delivered in time")

// session runs one subscription (which reconnects on its own) until
// ctx ends or the probe stops coming back.
func (f *Feed) session(ctx context.Context) error {
	sub := f.store.Subscribe(ctx, f.cfg.NodeID)
	sctx, cancel := context.WithCancel(ctx)
	events := make(chan received, 1024)
	var wg sync.WaitGroup
	wg.Go(func() { f.receive(sctx, sub, events) })
	defer func() {
		cancel()
		_ = sub.Close()
		wg.Wait()
	}()
	f.lastProbe.Store(f.cfg.Now().UnixNano())
	tick := time.NewTicker(f.cfg.TipInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case r := <-events:
			f.handle(ctx, r)
		case <-f.syncs:
			f.sync(ctx)
		case <-tick.C:
			if err := f.tick(ctx); err != nil {
				return err
			}
		}
	}
}

// received is one result of Subscription.Receive.
type received struct {
	ev  Event
	err error
}

// receive is the only reader of sub. After an error the next Receive
// reconnects and resubscribes; the new confirmation triggers a gap fill.
func (f *Feed) receive(ctx context.Context, sub Subscription, out chan<- received) {
	for {
		ev, err := sub.Receive(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case out <- received{ev, err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			select {
			case <-time.After(100 * time.Millisecond):
			case <-ctx.Done():
				return
			}
		}
	}
}

func (f *Feed) handle(ctx context.Context, r received) {
	if r.err != nil {
		f.subscribed.Store(false)
		f.caughtUp.Store(false)
		f.sub.failed(r.err)
		return
	}
	switch r.ev.Kind {
	case EventSubscribed:
		f.sub.ok()
		f.subscribed.Store(true)
		f.m.Resubscribes.Inc()
		f.sync(ctx) // subscribe first, then read: nothing slips through
	case EventProbe:
		f.sub.ok()
		f.lastProbe.Store(f.cfg.Now().UnixNano())
	case EventMessage:
		f.apply(ctx, r.ev.Payload)
	}
}

// apply applies a live message: the entries of one publish, consecutive
// in the log. Anything that does not follow what the node applied is
// resolved through the stream instead (sync), which covers the rest of
// the message too.
func (f *Feed) apply(ctx context.Context, payload string) {
	l, err := alarm.ParseLive([]byte(payload))
	if err != nil {
		f.log.Error("pubsub: drop malformed message", "err", err, "len", len(payload))
		return
	}
	if !f.loaded.Load() {
		return // the load that follows subscription includes it
	}
	if cur, _ := f.hub.State(); l.Epoch != cur {
		f.sync(ctx) // log epoch changed: resolve through the stream
		return
	}
	if !f.caughtUp.Load() {
		// A hole may lie before the entries (a failed gap fill): applying
		// them would move the applied id past it for good. Fill first; if
		// that fails too, drop them: they are in the stream, and the next
		// successful sync reads them.
		if f.cfg.Now().Sub(f.lastSync) >= f.cfg.RetrySync {
			f.sync(ctx)
		}
		if !f.caughtUp.Load() {
			return
		}
	}
	pred, hasPred := l.Pred, l.HasPred
	for _, e := range l.Entries {
		if _, applied := f.hub.State(); hasPred && applied.Less(e.ID) && pred != applied {
			// e does not follow what the node applied: alarms were missed,
			// or the log lost what the node applied (a rollback with new
			// alarms on top). The sync reads e from the stream and proves
			// which.
			f.sync(ctx)
			return
		}
		f.hub.Apply(e)
		pred = e.ID
	}
}

// tick publishes a probe, checks the last one came back, and syncs.
func (f *Feed) tick(ctx context.Context) error {
	if f.subscribed.Load() {
		age := f.cfg.Now().Sub(time.Unix(0, f.lastProbe.Load()))
		if age > f.cfg.ProbeTimeout {
			return fmt.Errorf("%w (last %s ago)", errProbeLost, age.Round(time.Millisecond))
		}
	}
	pctx, cancel := context.WithTimeout(ctx, f.store.Timeout())
	f.probeSeq++
	err := f.store.Probe(pctx, f.cfg.NodeID, fmt.Sprint(f.probeSeq))
	cancel()
	if err != nil {
		f.redis.failed(err)
	} else {
		f.redis.ok()
	}
	f.sync(ctx)
	return nil
}

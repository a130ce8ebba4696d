package hub

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/protocol"
)

// Defaults applied by New to zero Config fields.
const (
	// DefaultWindow is the number of recent alarms kept for resumes.
	DefaultWindow = 10000
	// DefaultQueueLen is the per-connection queue bound.
	DefaultQueueLen = 4096
)

// Config configures a Hub.
type Config struct {
	// NodeID is shown in welcome.node. Required.
	NodeID string
	// Window is how many recent alarms are kept in memory for resumes.
	// Default DefaultWindow.
	Window int
	// QueueLen bounds the live messages waiting for one connection; a
	// connection that falls further behind is closed with 4029. Default
	// DefaultQueueLen.
	QueueLen int
}

// Hub is a node's in-memory state. It is safe for concurrent use; Apply
// never blocks on a connection.
//
// Lock order: hub.mu, then Queue.mu (fan-out pushes under hub.mu), then
// whatever a Queue's start and overflew funcs take (internal/ws: the
// session's goroutine group mutex, a leaf). Conn.Kick is called with no
// hub lock held. The ws.Server mutex is never taken under any of these,
// nor are they taken under it.
type Hub struct {
	cfg Config
	log *slog.Logger
	m   *metrics.Metrics

	mu         sync.Mutex
	epoch      string                        // guarded by mu
	applied    protocol.ID                   // guarded by mu; highest applied id
	win        *window                       // guarded by mu
	subs       map[string]map[*Conn]struct{} // guarded by mu; channel -> connections
	conns      map[*Conn]struct{}            // guarded by mu
	advanced   chan struct{}                 // guarded by mu; closed and replaced when applied moves
	winGauge   metrics.GaugeShare            // guarded by mu; this hub's part of the node's window gauge
	connsGauge metrics.GaugeShare            // guarded by mu; this hub's part of the node's connection gauge
}

// setGaugesLocked brings this hub's parts of the node's window and
// connection gauges (the hubs of a node's partitions share them) in line
// with its counts.
func (h *Hub) setGaugesLocked() {
	h.winGauge.Set(float64(h.win.n))
	h.connsGauge.Set(float64(len(h.conns)))
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c Config) Validate() error {
	return errors.Join(
		defaults.Required("NodeID", c.NodeID != ""),
		defaults.Min("Window", c.Window, 1),
		defaults.Min("QueueLen", c.QueueLen, 1),
	)
}

// New validates cfg and returns an empty Hub (epoch "", applied 0-0).
func New(cfg Config, m *metrics.Metrics, log *slog.Logger) (*Hub, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("hub: invalid config: %w", err)
	}
	defaults.Set(&cfg.Window, DefaultWindow)
	defaults.Set(&cfg.QueueLen, DefaultQueueLen)
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Hub{
		cfg: cfg, log: log, m: m,
		win:      newWindow(cfg.Window),
		subs:     make(map[string]map[*Conn]struct{}),
		conns:    make(map[*Conn]struct{}),
		advanced: make(chan struct{}),
		winGauge: metrics.NewGaugeShare(m.WindowSize), connsGauge: metrics.NewGaugeShare(m.Connections),
	}, nil
}

// WindowSize is how many recent alarms the hub keeps (Config.Window with
// its default applied): what a feed loads into it.
func (h *Hub) WindowSize() int { return h.cfg.Window }

// Conn is one local connection as the hub sees it: its granted channels,
// its queue, and how to close it. Build it with NewConn.
type Conn struct {
	Channels []string
	// Inbox is the connection's inbox channel (user:<sub>), "" for none;
	// set before Resume, whose welcome then carries its counts.
	Inbox string
	Queue *Queue
	// Close closes the connection with a close code; the hub calls it
	// without holding its lock, at most once per Reset.
	Close func(code protocol.CloseCode, reason string)
}

// NewConn returns a Conn whose queue starts writer goroutines with start.
// closeConn must not block. An overflowing queue is closed by its writer
// (with protocol.CloseSlowClient) once its current write returns, so the
// close frame follows the data already sent.
func (h *Hub) NewConn(channels []string, start func(), closeConn func(protocol.CloseCode, string)) *Conn {
	q := NewQueue(h.cfg.QueueLen, start, h.m.SlowCloses.Inc)
	return &Conn{Channels: channels, Queue: q, Close: closeConn}
}

// State returns the epoch and the applied id.
func (h *Hub) State() (epoch string, applied protocol.ID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.epoch, h.applied
}

// Len returns the number of registered connections.
func (h *Hub) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// Reset installs a log epoch and its window: the epoch, the window entries (ascending) and
// the evicted id; applied becomes the newest entry (0-0 when there is
// none, so a node never claims ids the stream does not hold). When the
// epoch differs from the previous non-empty one, every connection is
// unregistered and closed with protocol.CloseRestart so it resumes and
// learns of the change. Reset returns the number of connections closed.
func (h *Hub) Reset(epoch string, entries []alarm.Entry, evicted protocol.ID) int {
	h.mu.Lock()
	changed := h.epoch != "" && h.epoch != epoch
	h.epoch = epoch
	prev := h.applied
	h.win.reset(entries, evicted)
	h.applied = h.win.newest()
	if !changed {
		// Same epoch: connections registered before the load still get
		// what it brought beyond what they were promised.
		for _, e := range entries {
			if prev.Less(e.ID) {
				h.fanOutLocked(e)
			}
		}
	}
	var closed []*Conn
	if changed {
		for c := range h.conns {
			closed = append(closed, c)
			h.removeLocked(c)
		}
	}
	h.advanceLocked()
	h.setGaugesLocked()
	h.mu.Unlock()
	for _, c := range closed {
		c.Queue.Close()
		c.Close(protocol.CloseRestart, "history reset")
	}
	return len(closed)
}

// Apply adds e if its id is above the applied id and queues it to every
// connection on its channel. It reports whether e was new. A connection
// whose queue is full is marked overflowed; its writer closes it.
func (h *Hub) Apply(e alarm.Entry) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.applyLocked(e) {
		return false
	}
	h.advanceLocked()
	return true
}

// ApplyBatch applies entries (ascending) under one lock and returns how
// many were new.
func (h *Hub) ApplyBatch(entries []alarm.Entry) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, e := range entries {
		if h.applyLocked(e) {
			n++
		}
	}
	if n > 0 {
		h.advanceLocked()
	}
	return n
}

func (h *Hub) applyLocked(e alarm.Entry) bool {
	if !h.applied.Less(e.ID) {
		h.m.Duplicates.Inc()
		return false
	}
	h.applied = e.ID
	h.win.push(e)
	h.m.Applied.Inc()
	h.setGaugesLocked()
	h.fanOutLocked(e)
	return true
}

func (h *Hub) fanOutLocked(e alarm.Entry) {
	delivered := 0
	for c := range h.subs[e.Channel] {
		if c.Queue.Push(e.Frame) {
			delivered++
		}
	}
	h.m.Delivered.Add(float64(delivered))
}

func (h *Hub) advanceLocked() {
	close(h.advanced)
	h.advanced = make(chan struct{})
}

// WaitApplied returns nil once the applied id is at or above id, or the
// context's error.
func (h *Hub) WaitApplied(ctx context.Context, id protocol.ID) error {
	for {
		h.mu.Lock()
		done, ch := !h.applied.Less(id), h.advanced
		h.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Unregister removes c; later alarms are not queued to it. Idempotent.
func (h *Hub) Unregister(c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(c)
}

func (h *Hub) removeLocked(c *Conn) {
	if _, ok := h.conns[c]; !ok {
		return
	}
	delete(h.conns, c)
	for _, ch := range c.Channels {
		if s := h.subs[ch]; s != nil {
			delete(s, c)
			if len(s) == 0 {
				delete(h.subs, ch)
			}
		}
	}
	h.setGaugesLocked()
}

// Conns returns a snapshot of the registered connections.
func (h *Hub) Conns() []*Conn {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*Conn, 0, len(h.conns))
	for c := range h.conns {
		out = append(out, c)
	}
	return out
}

// Window returns a copy of the window's entries, oldest first (for tests
// and tools).
func (h *Hub) Window() []alarm.Entry {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.win.all()
}

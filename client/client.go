package client

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/protocol"
)

// Errors Run reports or Disconnect carries.
var (
	// ErrProtocol: the server closed the connection with 4000 (bad hello or
	// bad JSON from this client). Run stops and returns it wrapped.
	ErrProtocol = errors.New("client: protocol error (close 4000)")
	// ErrAlreadyRunning: Run was called while another Run is in progress.
	ErrAlreadyRunning = errors.New("client: Run already in progress")
	// ErrIdleTimeout: nothing was received for Config.IdleTimeout.
	ErrIdleTimeout = errors.New("client: idle timeout")
	// ErrWelcomeTimeout: no welcome within Config.DialTimeout after hello.
	ErrWelcomeTimeout = errors.New("client: no welcome in time")
)

// Client receives the alarms of one token's channels, reconnecting and
// resuming from the last alarm it delivered, so that every alarm reaches the
// Handler once and in order as long as every welcome says
// protocol.StatusResumed.
//
// Run drives the client; Position and Duplicates are safe to call from any
// goroutine at any time, also while Run is running.
type Client struct {
	cfg       Config
	endpoints []string // shuffled at New; used only by Run's goroutine
	next      int      // index of the next endpoint; used only by Run's goroutine

	running atomic.Bool               // one Run at a time
	dups    atomic.Int64              // alarms dropped as duplicates
	inbox   atomic.Pointer[InboxView] // the attached InboxView, nil when none

	mu   sync.Mutex      // guards pos and conn
	pos  position        // written only by Run's goroutine
	conn *websocket.Conn // the welcomed connection, for ChangeState; set by Run's goroutine
}

// position is the resume point: the last delivered alarm, or the position
// of the last welcome when no alarm came since.
type position struct {
	idStr string      // as received; "" when none
	id    protocol.ID // parsed idStr
	valid bool        // idStr parsed
	epoch string
}

// New validates cfg, applies defaults and returns a Client that has not
// connected yet.
func New(cfg Config) (*Client, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, endpoints: cfg.Endpoints}
	for i := len(c.endpoints) - 1; i > 0; i-- {
		j := min(int(cfg.Rand()*float64(i+1)), i)
		c.endpoints[i], c.endpoints[j] = c.endpoints[j], c.endpoints[i]
	}
	id, err := protocol.ParseID(cfg.LastID)
	c.pos = position{idStr: cfg.LastID, id: id, valid: err == nil, epoch: cfg.Epoch}
	return c, nil
}

// Position returns the resume point: the id of the last alarm the Handler
// returned from (or the position of the last welcome, when no alarm came
// since) and its epoch. Pass both to Config.LastID and Config.Epoch to
// continue later with a new Client.
func (c *Client) Position() (lastID, epoch string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pos.idStr, c.pos.epoch
}

// Duplicates returns how many alarms the client dropped because their id
// was not after the last delivered one in the same epoch. A conforming
// server never causes this.
func (c *Client) Duplicates() int64 { return c.dups.Load() }

// Run connects, sends hello and hands events to h until ctx is done, then
// closes the connection with 1000 (waiting a few seconds at most for the
// server's close frame) and returns nil. It reconnects after every
// disconnect, whatever the close code (1000 included, except 4000), to the
// next endpoint, resuming from Position: at once after a 1012 close that
// followed a welcome, otherwise after an exponential backoff with full
// jitter that resets with every welcome. A 4001 close leads to a new Token
// call, like every connect.
//
// Run returns early with an error only when the server closes with 4000
// (wrapping ErrProtocol), when Config.Token fails (wrapping its error), or
// with ErrAlreadyRunning. h's funcs run on the caller's goroutine. Run may
// be called again after it returned; it continues from Position.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer c.running.Store(false)
	attempt := 0
	for ctx.Err() == nil {
		out := c.connect(ctx, h)
		if ctx.Err() != nil {
			return nil
		}
		if out.fatal != nil {
			return out.fatal
		}
		if h.Disconnect != nil {
			h.Disconnect(out.disc)
		}
		if out.disc.Code == protocol.CloseProtocol {
			return fmt.Errorf("%w: %s", ErrProtocol, out.disc.Reason)
		}
		if out.welcomed {
			attempt = 0
		}
		var delay time.Duration
		if !out.welcomed || out.disc.Code != protocol.CloseRestart {
			delay = backoff(attempt, c.cfg.MinBackoff, c.cfg.MaxBackoff, c.cfg.Rand())
			attempt++
		}
		c.cfg.Logger.Debug("client: disconnected", "endpoint", out.disc.Endpoint,
			"code", out.disc.Code, "reason", out.disc.Reason, "err", out.disc.Err, "retry_in", delay)
		if !sleep(ctx, delay) {
			return nil
		}
	}
	return nil
}

// backoff returns the delay before reconnect attempt number attempt
// (0-based): full jitter, r (in [0, 1)) times min·2^attempt capped at max.
func backoff(attempt int, minDelay, maxDelay time.Duration, r float64) time.Duration {
	ceiling := minDelay
	for i := 0; i < attempt && ceiling < maxDelay; i++ {
		if ceiling > maxDelay/2 {
			ceiling = maxDelay
			break
		}
		ceiling *= 2
	}
	ceiling = min(ceiling, maxDelay)
	r = min(max(r, 0), 1)
	return time.Duration(r * float64(ceiling))
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// nextEndpoint returns the endpoint for the next attempt (round robin).
func (c *Client) nextEndpoint() string {
	e := c.endpoints[c.next%len(c.endpoints)]
	c.next++
	return e
}

// applyWelcome moves the position to the welcome's, unless the welcome is
// in the same epoch (and not StatusEpochChanged) and behind what was
// already delivered: then delivery continues de-duplicated after the
// delivered id. It returns the id after which alarms are new.
func (c *Client) applyWelcome(w Welcome) (protocol.ID, error) {
	p, err := protocol.ParseID(w.Position)
	if err != nil {
		return protocol.ID{}, fmt.Errorf("%w: welcome position %q", ErrBadMessage, w.Position)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cur := c.pos
	keep := cur.valid && cur.epoch == w.Epoch && w.Status != protocol.StatusEpochChanged && p.Less(cur.id)
	if !keep {
		c.pos = position{idStr: w.Position, id: p, valid: true, epoch: w.Epoch}
	}
	return c.pos.id, nil
}

// delivered records an alarm the Handler has processed.
func (c *Client) delivered(idStr string, id protocol.ID, epoch string) {
	c.mu.Lock()
	c.pos = position{idStr: idStr, id: id, valid: true, epoch: epoch}
	c.mu.Unlock()
}

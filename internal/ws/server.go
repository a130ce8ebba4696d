package ws

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/transport"
	"github.com/alarmgate/alarmgate/protocol"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultHelloTimeout  = 10 * time.Second
	DefaultWriteTimeout  = 10 * time.Second
	DefaultPingInterval  = 25 * time.Second
	DefaultReadLimit     = 16 << 10
	DefaultMaxFrameBytes = 256 << 10
)

// Config configures the WebSocket endpoint.
type Config struct {
	// HelloTimeout is how long a client has to send hello. Default 10s.
	HelloTimeout time.Duration
	// WriteTimeout bounds each frame write. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is the idle time after which the server sends
	// {"type":"ping"} and a WebSocket ping. Default 25s.
	PingInterval time.Duration
	// CatchUpTimeout bounds the wait for a last_id ahead of the node (and
	// a state change's wait, see state.go). A last_id older than the window
	// waits for its turn to read the channel backlogs without it (see
	// transport.Resumer.Resume). Default 3s.
	CatchUpTimeout time.Duration
	// ReadLimit is the largest client message accepted. Default 16 KiB.
	ReadLimit int64
	// MaxFrameBytes caps the bytes coalesced into one frame. Default 256 KiB.
	MaxFrameBytes int
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "app.example.com", "*.example.com") browsers may connect from besides
	// the gateway's own host. Default none.
	AllowedOrigins []string
}

// Server accepts WebSocket sessions on /v1/ws. It is safe for concurrent
// use.
//
// Goroutines: each session's reader is counted in sessions from Add to
// Remove, and outlives the session's other goroutines (session.end waits
// for them), so Shutdown, waiting for sessions to empty, waits for every
// goroutine a session started. An upgrade refused while closing runs on
// its HTTP handler's goroutine, which http.Server does not wait for once
// the socket is hijacked: sessions counts it as refused for Wait.
// RunWriteWatchdog runs on its caller's goroutine.
//
// Locks: the lock of sessions is taken alone; nothing under it takes
// hub.mu, a Queue's mu or a session's group mu, and it is never taken
// under them (see hub.Hub).
type Server struct {
	cfg    Config
	parts  transport.Partitions // a session is served from its token's partition
	verify *auth.Verifier
	// states applies the state changes clients send; nil refuses them.
	states States
	m      *metrics.Metrics
	log    *slog.Logger
	accept *websocket.AcceptOptions

	conns *limit.Conns // the node's connection budget, shared with SSE; see admit

	sessions transport.ConnSet[*session] // from Add to Remove; upgrades refused while closing count as refused
	writers  writerPool                  // writes data frames for the sessions' queues
	frames   sync.Pool                   // *frameBuf of dedicated writers between bursts
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c Config) Validate() error {
	return errors.Join(
		defaults.Min("HelloTimeout", c.HelloTimeout, time.Millisecond),
		defaults.Min("WriteTimeout", c.WriteTimeout, time.Millisecond),
		defaults.Min("PingInterval", c.PingInterval, time.Millisecond),
		defaults.Min("CatchUpTimeout", c.CatchUpTimeout, time.Millisecond),
		defaults.Min("ReadLimit", c.ReadLimit, 512),
		defaults.Min("MaxFrameBytes", c.MaxFrameBytes, 1024),
		defaults.Patterns("AllowedOrigins", c.AllowedOrigins),
	)
}

// New validates cfg and returns a Server serving sessions from parts
// (one partition, or the node's P: see transport.Partitions; a
// partition's Backfill may be nil: resumes older than the window are
// answered expired); states (may be nil) applies the inbox state changes clients
// send (the node gives a *limit.Inbox, which limits them per user). conns
// is the node's connection budget, shared with its other transports; nil:
// one of the server's own, with the defaults.
func New(cfg Config, parts []transport.Partition, v *auth.Verifier, states States, conns *limit.Conns, m *metrics.Metrics, log *slog.Logger) (*Server, error) {
	if v == nil {
		return nil, errors.New("ws: a verifier is required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ws: invalid config: %w", err)
	}
	defaults.Set(&cfg.HelloTimeout, DefaultHelloTimeout)
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.PingInterval, DefaultPingInterval)
	defaults.Set(&cfg.CatchUpTimeout, transport.DefaultCatchUpTimeout)
	defaults.Set(&cfg.ReadLimit, DefaultReadLimit)
	defaults.Set(&cfg.MaxFrameBytes, DefaultMaxFrameBytes)
	if m == nil {
		m = metrics.New(nil)
	}
	if conns == nil {
		var err error
		if conns, err = limit.NewConns(limit.ConnConfig{}, m, nil); err != nil {
			return nil, fmt.Errorf("ws: %w", err)
		}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ps, err := transport.NewPartitions(parts, cfg.CatchUpTimeout)
	if err != nil {
		return nil, fmt.Errorf("ws: %w", err)
	}
	return &Server{
		cfg: cfg, parts: ps, verify: v, states: states, m: m, log: log,
		accept: &websocket.AcceptOptions{
			OriginPatterns:  cfg.AllowedOrigins,
			CompressionMode: websocket.CompressionDisabled,
		},
		conns:   conns,
		writers: writerPool{size: runtime.GOMAXPROCS(0)},
		frames:  sync.Pool{New: func() any { return new(frameBuf) }},
	}, nil
}

// ServeHTTP upgrades the request, reads the hello and registers the
// session, then hands the socket to a reader goroutine and returns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.admit(w, r) {
		return
	}
	handedOff := false
	defer func() {
		if !handedOff {
			s.conns.Release(transportLabel)
		}
	}()
	remote := s.conns.Source(r)
	hj := &leanHijacker{ResponseWriter: w}
	c, err := websocket.Accept(hj, r, s.accept)
	if err != nil {
		s.log.Info("ws: upgrade refused", "err", err, "remote", remote)
		return
	}
	c.SetReadLimit(s.cfg.ReadLimit)
	sess := newSession(s, c, hj.sc, hj.br, remote)
	if !s.sessions.Add(sess) {
		sess.close(protocol.CloseRestart, "node draining")
		sess.end()
		s.sessions.Remove(sess)
		return
	}
	if !sess.start() {
		sess.end()
		s.sessions.Remove(sess)
		return
	}
	// Owned by s (in sessions from Add to Remove); it stops when the socket
	// closes: the peer leaves, or a close, the watchdog or Shutdown closes it.
	handedOff = true
	go func() {
		defer s.conns.Release(transportLabel)
		defer s.sessions.Remove(sess)
		defer sess.end()
		sess.readLoop()
	}()
}

// Wait returns nil once every socket the server accepted has been handled
// to its end, goroutines included: the sessions and the upgrades refused
// while closing. Call it after the listener is closed (later upgrades are
// not waited for); it returns ctx.Err() if ctx ends first.
func (s *Server) Wait(ctx context.Context) error {
	if err := s.sessions.Wait(ctx); err != nil {
		return err
	}
	return s.writers.wait(ctx)
}

// Shutdown refuses new sessions (their upgrades are closed with 1012 at
// once) and closes every open one with 1012, spread evenly over spread so
// clients do not reconnect all at once. It returns when every session and
// every goroutine it started has ended, or force-closes the rest when ctx
// ends and returns ctx.Err() once they have ended.
func (s *Server) Shutdown(ctx context.Context, spread time.Duration) error {
	err := s.sessions.Drain(ctx, spread, func(sess *session) {
		// Owned by the session's group; a session already ending needs no
		// close, and its end waits for this one.
		sess.goroutines.Go(func() { sess.close(protocol.CloseRestart, "node restarting") })
	}, func(sess *session) { _ = sess.wsConn.CloseNow() })
	// Every session has ended, so the pool's workers have no turn left.
	return errors.Join(err, s.writers.wait(context.WithoutCancel(ctx)))
}

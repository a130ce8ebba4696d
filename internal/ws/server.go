package ws

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/protocol"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultHelloTimeout   = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultPingInterval   = 25 * time.Second
	DefaultReadLimit      = 16 << 10
	DefaultMaxFrameBytes  = 256 << 10
	DefaultMaxConnections = 100000
	DefaultConnectRate    = 50.0
	DefaultConnectBurst   = 200
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
	// CatchUpTimeout bounds the wait for a last_id ahead of the node, and
	// the read of the channel histories for a last_id older than the window.
	// Default 3s.
	CatchUpTimeout time.Duration
	// ReadLimit is the largest client message accepted. Default 16 KiB.
	ReadLimit int64
	// MaxFrameBytes caps the bytes coalesced into one frame. Default 256 KiB.
	MaxFrameBytes int
	// AllowedOrigins are host patterns (path.Match syntax, e.g.
	// "app.example.com", "*.example.com") browsers may connect from besides
	// the gateway's own host. Default none.
	AllowedOrigins []string
	// MaxConnections caps the node's open WebSockets; an upgrade beyond it
	// is answered 503 (Retry-After) before the upgrade. Default
	// DefaultMaxConnections (100000); negative: no cap.
	MaxConnections int
	// ConnectRate is the upgrades per second one source address may
	// attempt, with ConnectBurst at once; more get 429 (Retry-After)
	// before the upgrade. The source is the TCP peer: behind a proxy every
	// client shares the proxy's address. Defaults DefaultConnectRate (50)
	// and DefaultConnectBurst (200); a negative rate: no limit.
	ConnectRate  float64
	ConnectBurst int
}

// Server accepts WebSocket sessions on /v1/ws. It is safe for concurrent
// use.
//
// Goroutines: each session's reader is counted in sessions from add to
// remove, and outlives the session's other goroutines (session.end waits
// for them), so Shutdown, waiting for sessions to empty, waits for every
// goroutine a session started. An upgrade refused while closing runs on
// its HTTP handler's goroutine, which http.Server does not wait for once
// the socket is hijacked: refused counts it for Wait. RunWriteWatchdog
// runs on its caller's goroutine.
//
// Locks: mu is taken alone; nothing under it takes hub.mu, a Queue's mu or
// a session's group mu, and it is never taken under them (see hub.Hub).
type Server struct {
	cfg    Config
	hub    *hub.Hub
	verify *auth.Verifier
	feed   hub.Feed
	// history reads the channel histories for resumes older than the
	// window; nil answers them expired.
	history hub.History
	// states applies the state changes clients send; nil refuses them.
	states States
	m      *metrics.Metrics
	log    *slog.Logger
	accept *websocket.AcceptOptions

	connects *limit.Keyed[string] // upgrade attempts per source address
	open     atomic.Int64         // upgrades admitted and not yet ended; see admit

	mu       sync.Mutex
	sessions map[*session]struct{} // guarded by mu; from add to remove
	closing  bool                  // guarded by mu; no new sessions
	refused  int                   // guarded by mu; upgrades refused while closing, still closing
	changed  hub.Changes           // guarded by mu; notified when a session or refusal ends
}

// New validates cfg and returns a Server.
// states (may be nil) applies the inbox state changes clients send.
func New(cfg Config, h *hub.Hub, v *auth.Verifier, feed hub.Feed, history hub.History, states States, m *metrics.Metrics, log *slog.Logger) (*Server, error) {
	if h == nil || v == nil || feed == nil {
		return nil, errors.New("ws: hub, verifier and feed are required")
	}
	defaults.Set(&cfg.HelloTimeout, DefaultHelloTimeout)
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.PingInterval, DefaultPingInterval)
	defaults.Set(&cfg.CatchUpTimeout, hub.DefaultCatchUpTimeout)
	defaults.Set(&cfg.ReadLimit, DefaultReadLimit)
	defaults.Set(&cfg.MaxFrameBytes, DefaultMaxFrameBytes)
	defaults.Set(&cfg.MaxConnections, DefaultMaxConnections)
	defaults.Set(&cfg.ConnectRate, DefaultConnectRate)
	defaults.Set(&cfg.ConnectBurst, DefaultConnectBurst)
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg, hub: h, verify: v, feed: feed, history: history, states: states, m: m, log: log,
		accept: &websocket.AcceptOptions{
			OriginPatterns:  cfg.AllowedOrigins,
			CompressionMode: websocket.CompressionDisabled,
		},
		sessions: make(map[*session]struct{}),
		connects: limit.NewKeyed[string](limit.Rate{PerSecond: cfg.ConnectRate, Burst: cfg.ConnectBurst}, nil),
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
			s.open.Add(-1)
		}
	}()
	c, err := websocket.Accept(leanHijacker{w}, r, s.accept)
	if err != nil {
		s.log.Info("ws: upgrade refused", "err", err, "remote", r.RemoteAddr)
		return
	}
	c.SetReadLimit(s.cfg.ReadLimit)
	sess := newSession(s, c, r.RemoteAddr)
	if !s.add(sess) {
		sess.close(protocol.CloseRestart, "node draining")
		sess.end()
		s.remove(sess)
		return
	}
	if !sess.start() {
		sess.end()
		s.remove(sess)
		return
	}
	// Owned by s (in sessions from add to remove); it stops when the socket
	// closes: the peer leaves, or a close, the watchdog or Shutdown closes it.
	handedOff = true
	go func() {
		defer s.open.Add(-1)
		defer s.remove(sess)
		defer sess.end()
		sess.readLoop()
	}()
}

// add registers sess and reports true, or, when the server is closing,
// counts it as refused and reports false. Either way remove must follow.
func (s *Server) add(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		s.refused++
		return false
	}
	s.sessions[sess] = struct{}{}
	return true
}

// remove ends what add began and wakes the waiters.
func (s *Server) remove(sess *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.sessions[sess]; ok {
		delete(s.sessions, sess)
	} else {
		s.refused--
	}
	s.changed.NotifyLocked()
}

// waitFor returns nil once done, called under mu, holds, or ctx.Err().
func (s *Server) waitFor(ctx context.Context, done func() bool) error {
	return s.changed.Wait(ctx, &s.mu, done)
}

// Wait returns nil once every socket the server accepted has been handled
// to its end, goroutines included: the sessions and the upgrades refused
// while closing. Call it after the listener is closed (later upgrades are
// not waited for); it returns ctx.Err() if ctx ends first.
func (s *Server) Wait(ctx context.Context) error {
	return s.waitFor(ctx, func() bool { return len(s.sessions) == 0 && s.refused == 0 })
}

// Shutdown refuses new sessions (their upgrades are closed with 1012 at
// once) and closes every open one with 1012, spread evenly over spread so
// clients do not reconnect all at once. It returns when every session and
// every goroutine it started has ended, or force-closes the rest when ctx
// ends and returns ctx.Err() once they have ended.
func (s *Server) Shutdown(ctx context.Context, spread time.Duration) error {
	s.mu.Lock()
	s.closing = true
	all := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	hub.Spread(ctx, len(all), spread, func(i int) {
		sess := all[i]
		// Owned by the session's group; a session already ending needs no
		// close, and its end waits for this one.
		sess.goroutines.Go(func() { sess.close(protocol.CloseRestart, "node restarting") })
	})
	sessionsDone := func() bool { return len(s.sessions) == 0 }
	if s.waitFor(ctx, sessionsDone) == nil {
		return nil
	}
	for _, sess := range all {
		_ = sess.wsConn.CloseNow()
	}
	_ = s.waitFor(context.Background(), sessionsDone)
	return ctx.Err()
}

func codeLabel(code protocol.CloseCode) string { return strconv.Itoa(int(code)) }

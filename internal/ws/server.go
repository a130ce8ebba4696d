package ws

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/metrics"
)

// Close codes sent to clients (see the protocol).
const (
	CodeNormal     = 1000
	CodeRestart    = 1012
	CodeTryLater   = 1013
	CodeProtocol   = 4000
	CodeAuth       = 4001
	CodeNoHello    = 4008
	CodeSlowClient = 4029
)

// Feed is what a session needs from the live feed. *pubsub.Feed has it.
type Feed interface {
	// Ready reports whether the node is current with the stream.
	Ready() bool
	// SyncNow asks for an immediate catch-up; it never blocks.
	SyncNow()
}

// Config configures the WebSocket endpoint.
type Config struct {
	// HelloTimeout is how long a client has to send hello. Default 10s.
	HelloTimeout time.Duration
	// WriteTimeout bounds each frame write. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is the idle time after which the server sends
	// {"type":"ping"} and a WebSocket ping. Default 25s.
	PingInterval time.Duration
	// CatchUpTimeout bounds the wait for a last_id ahead of the node.
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
}

// Server accepts WebSocket sessions on /v1/ws. It is safe for concurrent
// use.
type Server struct {
	cfg    Config
	hub    *hub.Hub
	verify *auth.Verifier
	feed   Feed
	m      *metrics.Metrics
	log    *slog.Logger
	accept *websocket.AcceptOptions

	mu       sync.Mutex
	sessions map[*session]struct{} // guarded by mu
	closing  bool                  // guarded by mu; no new sessions
	wg       sync.WaitGroup        // one per session, for Shutdown
}

// New validates cfg and returns a Server.
func New(cfg Config, h *hub.Hub, v *auth.Verifier, feed Feed, m *metrics.Metrics, log *slog.Logger) (*Server, error) {
	if h == nil || v == nil || feed == nil {
		return nil, errors.New("ws: hub, verifier and feed are required")
	}
	def(&cfg.HelloTimeout, 10*time.Second)
	def(&cfg.WriteTimeout, 10*time.Second)
	def(&cfg.PingInterval, 25*time.Second)
	def(&cfg.CatchUpTimeout, 3*time.Second)
	def(&cfg.ReadLimit, 16<<10)
	def(&cfg.MaxFrameBytes, 256<<10)
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg, hub: h, verify: v, feed: feed, m: m, log: log,
		accept: &websocket.AcceptOptions{
			OriginPatterns:  cfg.AllowedOrigins,
			CompressionMode: websocket.CompressionDisabled,
		},
		sessions: make(map[*session]struct{}),
	}, nil
}

func def[T comparable](p *T, v T) {
	var zero T
	if *p == zero {
		*p = v
	}
}

// ServeHTTP upgrades the request, reads the hello and registers the
// session, then hands the socket to a reader goroutine and returns.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(leanHijacker{w}, r, s.accept)
	if err != nil {
		s.log.Info("ws: upgrade refused", "err", err, "remote", r.RemoteAddr)
		return
	}
	c.SetReadLimit(s.cfg.ReadLimit)
	sess := newSession(s, c, r.RemoteAddr)
	if !s.add(sess) {
		sess.close(CodeRestart, "node draining")
		sess.end()
		return
	}
	if !sess.start() {
		sess.end()
		s.remove(sess)
		return
	}
	go func() {
		defer s.remove(sess)
		defer sess.end()
		sess.readLoop()
	}()
}

// Run closes sockets whose frame write has been blocked for longer than
// WriteTimeout, until ctx ends. Writes carry no deadline of their own.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(max(s.cfg.WriteTimeout/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			for _, sess := range s.stuck(now) {
				s.log.Debug("ws: write timed out", "remote", sess.remote)
				go func() { sess.cancel(); _ = sess.c.CloseNow() }()
			}
		}
	}
}

func (s *Server) stuck(now time.Time) []*session {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*session
	limit := now.Add(-s.cfg.WriteTimeout).UnixNano()
	for sess := range s.sessions {
		if ws := sess.writeStart.Load(); ws != 0 && ws < limit {
			out = append(out, sess)
		}
	}
	return out
}

func (s *Server) add(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.sessions[sess] = struct{}{}
	s.wg.Add(1)
	return true
}

func (s *Server) remove(sess *session) {
	s.mu.Lock()
	delete(s.sessions, sess)
	s.mu.Unlock()
	s.wg.Done()
}

// Shutdown refuses new sessions and closes every open one with 1012,
// spread evenly over spread so clients do not reconnect all at once. It
// returns when every session has ended, or force-closes the rest when ctx
// ends.
func (s *Server) Shutdown(ctx context.Context, spread time.Duration) error {
	s.mu.Lock()
	s.closing = true
	all := make([]*session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	step := time.Duration(0)
	if len(all) > 1 {
		step = spread / time.Duration(len(all))
	}
	for i, sess := range all {
		if i > 0 && step > 0 {
			select {
			case <-time.After(step):
			case <-ctx.Done():
			}
		}
		go sess.close(CodeRestart, "node restarting")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, sess := range all {
			_ = sess.c.CloseNow()
		}
		<-done
		return ctx.Err()
	}
}

func codeLabel(code int) string { return strconv.Itoa(code) }

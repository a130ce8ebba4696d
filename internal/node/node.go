package node

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/api"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/pubsub"
	"github.com/alarmgate/alarmgate/internal/sse"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/ws"
	"github.com/alarmgate/alarmgate/web"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultDrainDelay  = 5 * time.Second
	DefaultCloseSpread = time.Second
	DefaultReadTimeout = 30 * time.Second
	DefaultIdleTimeout = 120 * time.Second
)

// Config configures a node. Zero fields take the defaults of the packages
// they belong to.
type Config struct {
	// NodeID names the node in welcome.node and logs. Required.
	NodeID string
	// JWTSecret signs client tokens (HS256) and, derived, SSE tickets.
	// Required unless JWKS is set; at least auth.MinSecretLen bytes.
	// Without it the tickets' key is derived from APIKeys.
	JWTSecret []byte
	// JWKS verifies RS256, ES256 and EdDSA tokens of an identity provider.
	// Optional.
	JWKS *auth.JWKS
	// JWTAudience and JWTIssuer, when set, must match a token's aud and iss.
	JWTAudience, JWTIssuer string
	// APIKeys are the publish keys. At least one is required.
	APIKeys []string
	// Stream configures the log in Redis (prefix, caps, sizes).
	Stream stream.Config
	// Hub configures the in-memory state: the window of recent alarms kept
	// for resumes (which the feed loads) and each connection's queue
	// (NodeID is filled in from the node's).
	Hub hub.Config
	// WS configures WebSocket sessions.
	WS ws.Config
	// SSE configures Server-Sent Events streams and their tickets.
	SSE sse.Config
	// API configures the publish API.
	API api.Config
	// Conns is the connection budget (cap, connect rate per address),
	// shared by WebSockets and SSE streams.
	Conns limit.ConnConfig
	// Users sets the per-user limits of state changes and inbox reads,
	// shared by every transport.
	Users limit.UserConfig
	// Feed tunes the live feed (tip interval, probe timeout).
	Feed pubsub.Config
	// Ingest, when set, runs the ingest stream consumer (NodeID is filled
	// in from the node's). nil: the node does not consume the ingest stream.
	Ingest *ingest.Config
	// DrainDelay is how long the node keeps serving after Shutdown starts,
	// failing /readyz, before closing sockets. Default DefaultDrainDelay.
	DrainDelay time.Duration
	// CloseSpread spreads the 1012 closes (of WebSockets and SSE streams
	// alike) at the end of a drain. Default
	// DefaultCloseSpread.
	CloseSpread time.Duration
	// ReadTimeout bounds the reading of one HTTP request, headers and body,
	// so a client that never finishes its body cannot hold a socket and a
	// goroutine. WebSocket connections clear it after the upgrade. Default
	// DefaultReadTimeout (30s).
	ReadTimeout time.Duration
	// IdleTimeout closes a kept-alive HTTP connection that waits this long
	// for its next request. Default DefaultIdleTimeout (120s).
	IdleTimeout time.Duration
	// Demo serves the demo page at / and its settings at /demo/config.
	// /client.js and /alarm-inbox.js are always served.
	Demo bool
	// DemoConfig is what /demo/config returns when Demo is set.
	DemoConfig any
	// Admin moves /metrics off Handler: it is served only by AdminHandler,
	// on a listener of its own. Default false (Handler serves /metrics).
	Admin bool
}

// Node is one gateway node. Handler is safe for concurrent use; call
// Serve once, and Shutdown (or end Serve's context) to stop.
type Node struct {
	cfg      Config
	log      *slog.Logger
	reg      *prometheus.Registry
	m        *metrics.Metrics
	parts    []*partition   // partition k at index k; one unless Config.Stream.Partitions says more
	router   *stream.Router // routes the API's and the ingest consumers' calls to the partitions
	ws       *ws.Server
	sse      *sse.Server
	api      *api.API
	draining atomic.Bool // set when Shutdown starts; fails /readyz
	layout   atomic.Bool // set once Redis' partition layout is found to be the node's; see checkLayout

	life lifecycle // see Serve and Shutdown
}

// New wires a node on rdb. It does not touch Redis until Serve.
func New(cfg Config, rdb redis.UniversalClient, log *slog.Logger) (*Node, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("node: invalid config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	defaults.Set(&cfg.DrainDelay, DefaultDrainDelay)
	defaults.Set(&cfg.CloseSpread, DefaultCloseSpread)
	defaults.Set(&cfg.ReadTimeout, DefaultReadTimeout)
	defaults.Set(&cfg.IdleTimeout, DefaultIdleTimeout)
	n := &Node{cfg: cfg, log: log, reg: prometheus.NewRegistry()}
	n.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.m = metrics.New(n.reg)
	var err error
	if n.parts, n.router, err = newPartitions(cfg, rdb, n.m, log); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	verifier, err := auth.NewVerifier(auth.VerifierConfig{Secret: cfg.JWTSecret, JWKS: cfg.JWKS,
		Audience: cfg.JWTAudience, Issuer: cfg.JWTIssuer})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	// One budget and one set of user limits for every transport.
	conns, err := limit.NewConns(cfg.Conns, n.m, nil)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	inbox, err := limit.NewInbox(cfg.Users, n.router, n.m, nil)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.ws, err = ws.New(cfg.WS, transports(n.parts), verifier, inbox, conns, n.m, log); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	tickets, err := auth.NewTickets(auth.TicketConfig{Secret: cfg.ticketSecret(), TTL: cfg.SSE.TicketTTL})
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.sse, err = sse.New(cfg.SSE, transports(n.parts), verifier, tickets, conns, n.m, log); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	keys, err := auth.NewKeys(cfg.APIKeys)
	if err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if n.api, err = api.New(cfg.API, n.router, keys, n.m, log); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	if cfg.Ingest != nil {
		if err := addIngest(cfg, n.parts, n.router, n.m, log); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
	}
	n.api.WithInbox(inbox, verifier)
	n.life.init(n.Handler(), cfg.ReadTimeout, cfg.IdleTimeout, log)
	return n, nil
}

// Handler returns the node's HTTP routes.
func (n *Node) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /v1/ws", n.ws)
	n.sse.Register(mux)
	n.api.Register(mux)
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", n.readyz)
	if !n.cfg.Admin {
		mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	}
	static := web.Handler()
	mux.Handle("GET /client.js", static)
	mux.Handle("GET /client.d.ts", static)
	mux.Handle("GET /alarm-inbox.js", static)
	if n.cfg.Demo {
		mux.Handle("GET /", static)
		mux.HandleFunc("GET /demo/config", func(w http.ResponseWriter, r *http.Request) {
			// A page on another site that rebinds its own name to this
			// node's address (DNS rebinding) sends its own Host: refused.
			if !auth.IsLoopbackHost(r.Host) {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(n.cfg.DemoConfig)
		})
	}
	return mux
}

// Ready reports whether the node may take new clients: it is not
// draining, has found Redis' partition layout to be its own, has loaded
// every partition's window, and is current with at least one partition
// (with one partition: with it). A partition that falls behind later
// (its master fails over) refuses only its own clients' hellos (1013):
// the clients of the other partitions keep connecting to this node.
func (n *Node) Ready() bool {
	if n.draining.Load() || !n.layout.Load() {
		return false
	}
	current := false
	for _, p := range n.parts {
		if !p.feed.Status().Loaded {
			return false
		}
		current = current || p.feed.Ready()
	}
	return current
}

func (n *Node) readyz(w http.ResponseWriter, _ *http.Request) {
	// The feed's once-a-second tip check already proves Redis reachable;
	// a probe does not add a round trip of its own.
	ready := n.Ready()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if !ready {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("not ready\n"))
		return
	}
	_, _ = w.Write([]byte("ready\n"))
}

// WaitReady blocks until the node is ready or ctx ends.
func (n *Node) WaitReady(ctx context.Context) error {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for !n.Ready() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("node: not ready: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// Store returns the store of the node's partition 0, the only one unless
// Config.Stream.Partitions says more (for tools and tests).
func (n *Node) Store() *stream.Store { return n.parts[0].store }

// Stores returns the store of every partition, partition k at index k.
func (n *Node) Stores() []*stream.Store {
	ss := make([]*stream.Store, len(n.parts))
	for k, p := range n.parts {
		ss[k] = p.store
	}
	return ss
}

// Hub returns the hub of the node's partition 0 (for tests).
func (n *Node) Hub() *hub.Hub { return n.parts[0].hub }

// Metrics returns the node's registry (for tests).
func (n *Node) Metrics() *prometheus.Registry { return n.reg }

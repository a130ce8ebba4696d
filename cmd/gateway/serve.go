package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/api"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/node"
	"github.com/alarmgate/alarmgate/internal/sse"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/ws"
)

// demoSettings is what the demo page reads from /demo/config.
type demoSettings struct {
	Token  string `json:"token"`
	APIKey string `json:"api_key"`
	User   string `json:"user"`
	WS     string `json:"ws,omitempty"` // comma-separated WebSocket URLs; empty: the page's origin
}

// serve runs a node until ctx ends, then drains and exits cleanly
// (node.Node.Shutdown has the sequence). It validates the whole
// configuration first, and checks Redis, before it starts anything.
func serve(ctx context.Context, environ map[string]string, stdout, stderr io.Writer) error {
	cfg, err := loadConfigFrom(environ)
	unknown := unknownVariables(environ)
	if err != nil {
		return withNotes(err, unknown)
	}
	log := cfg.logger(stderr).With("node", cfg.NodeID)
	routeRedisLogs(log, cfg.RedisURL)
	for _, u := range unknown {
		log.Warn("gateway: " + u)
	}
	rdb, closeRedis, err := openRedis(&cfg, log)
	if err != nil {
		return err
	}
	defer closeRedis()
	if cfg.embedded() {
		fillDemoSecrets(&cfg)
	}
	ncfg := nodeConfig(cfg)
	if ncfg.JWKS, err = cfg.jwks(log); err != nil {
		return err
	}
	if cfg.demo() {
		demo, err := demoSettingsFor(cfg)
		if err != nil {
			return err
		}
		ncfg.Demo, ncfg.DemoConfig = true, demo
	}
	n, err := node.New(ncfg, rdb, log)
	if err != nil {
		return err
	}
	if !cfg.embedded() {
		if err := preflight(ctx, n.Stores(), cfg, log); err != nil {
			return err
		}
	}
	if ncfg.JWKS != nil {
		if err := ncfg.JWKS.Refresh(ctx); err != nil {
			log.Warn("gateway: the JWKS could not be fetched at start; tokens of the identity provider fail until it can", "err", err)
		}
	}
	ln, err := cfg.listen()
	if err != nil {
		return err
	}
	stop, err := serveSideListeners(cfg, n, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	defer stop()
	log.Info("gateway: listening", "addr", ln.Addr().String(), "tls", cfg.TLSCertFile != "", "embedded_redis", cfg.embedded())
	switch {
	case ncfg.Demo && cfg.embedded():
		printDemo(stdout, ln.Addr().String(), ncfg.DemoConfig.(demoSettings))
	case ncfg.Demo:
		log.Warn("gateway: demo page enabled; /demo/config hands out a token and an API key to anyone who can reach it")
	}
	err = n.Serve(ctx, ln) // drains and stops when ctx ends; see node.Node.Shutdown
	log.Info("gateway: stopped")
	return err
}

// openRedis connects to GATEWAY_REDIS_URL, or starts the embedded
// miniredis when it is empty.
func openRedis(cfg *config, log *slog.Logger) (redis.UniversalClient, func(), error) {
	if !cfg.embedded() {
		rdb, err := cfg.redisClient()
		if err != nil {
			return nil, nil, err
		}
		return rdb, func() { _ = rdb.Close() }, nil
	}
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, nil, fmt.Errorf("embedded redis: %w", err)
	}
	log.Warn("gateway: using the embedded in-memory Redis (demo only: nothing survives a restart)", "addr", mr.Addr())
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	return rdb, func() { _ = rdb.Close(); mr.Close() }, nil
}

// nodeConfig is the node's configuration from the environment's. With the
// embedded Redis there is no other node to drain to: unless
// GATEWAY_DRAIN_DELAY or GATEWAY_CLOSE_SPREAD is set, the node stops at
// once.
func nodeConfig(cfg config) node.Config {
	drain, spread := cfg.DrainDelay, cfg.CloseSpread
	if cfg.embedded() && !cfg.set["GATEWAY_DRAIN_DELAY"] {
		drain = node.NoDelay
	}
	if cfg.embedded() && !cfg.set["GATEWAY_CLOSE_SPREAD"] {
		spread = node.NoDelay
	}
	return node.Config{
		NodeID:    cfg.NodeID,
		JWTSecret: []byte(cfg.JWTSecret), JWTAudience: cfg.JWTAudience, JWTIssuer: cfg.JWTIssuer,
		Admin:   cfg.AdminAddr != "",
		APIKeys: cfg.APIKeys,
		Stream: stream.Config{
			Prefix: cfg.RedisPrefix, Partitions: cfg.Partitions,
			MaxLen: cfg.StreamMaxLen, Retention: cfg.StreamRetention,
			ChannelBacklog: cfg.ChannelBacklog,
			InboxRetention: cfg.InboxRetention,
			MaxAlarmBytes:  cfg.MaxAlarmBytes,
			// Sharded Pub/Sub keeps the live feed on the shard of {prefix}.
			ShardedPubSub: cfg.RedisMode == "cluster",
			MinReplicas:   cfg.MinReplicas, ReplicaTimeout: cfg.ReplicaTimeout,
		},
		Hub: hub.Config{Window: cfg.Window, QueueLen: cfg.QueueLen},
		WS: ws.Config{
			HelloTimeout: cfg.HelloTimeout, PingInterval: cfg.PingInterval, AllowedOrigins: cfg.AllowedOrigins,
		},
		Conns: limit.ConnConfig{
			MaxConnections: cfg.MaxConnections, ConnectRate: cfg.ConnectRate, ConnectBurst: cfg.ConnectBurst,
			TrustedProxies: cfg.TrustedProxies,
		},
		Users: limit.UserConfig{
			StateRate: cfg.UserStateRate, StateBurst: cfg.UserStateBurst,
			InboxReadRate: cfg.UserInboxReadRate, InboxReadBurst: cfg.UserInboxReadBurst,
		},
		SSE: sse.Config{AllowedOrigins: cfg.AllowedOrigins},
		API: api.Config{MaxBodyBytes: int64(cfg.MaxAlarmBytes) + api.BodyOverhead,
			PublishRate: cfg.PublishRate, PublishBurst: cfg.PublishBurst, AllowedOrigins: cfg.AllowedOrigins},
		DrainDelay:  drain,
		CloseSpread: spread,
		ReadTimeout: cfg.ReadTimeout,
		IdleTimeout: cfg.IdleTimeout,
		Ingest:      ingestConfig(cfg),
	}
}

// demoIngestBlock is the ingest consumer's XREADGROUP BLOCK with the
// embedded Redis: a blocked read is not cut short by the stop, so it
// bounds how long Ctrl-C on the demo takes.
const demoIngestBlock = 100 * time.Millisecond

// ingestConfig is the ingest consumer's config, nil when GATEWAY_INGEST
// is off.
func ingestConfig(cfg config) *ingest.Config {
	if !cfg.Ingest {
		return nil
	}
	ic := &ingest.Config{BatchSize: cfg.IngestBatch, ClaimIdle: cfg.IngestClaimIdle, PubSubChannel: cfg.IngestPubSub}
	if cfg.embedded() {
		ic.Block = demoIngestBlock
	}
	return ic
}

// fillDemoSecrets generates the secrets an embedded demo was not given.
func fillDemoSecrets(cfg *config) {
	if cfg.JWTSecret == "" {
		cfg.JWTSecret = randomHex(32)
	}
	if len(cfg.APIKeys) == 0 {
		cfg.APIKeys = []string{"demo-" + randomHex(16)}
	}
}

// demoSettingsFor mints the demo page's token and names its API key.
func demoSettingsFor(cfg config) (demoSettings, error) {
	if cfg.JWTSecret == "" || len(cfg.APIKeys) == 0 {
		return demoSettings{}, errors.New("demo: GATEWAY_DEMO needs GATEWAY_JWT_SECRET and GATEWAY_API_KEYS")
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(cfg.JWTSecret)})
	if err != nil {
		return demoSettings{}, fmt.Errorf("demo: %w", err)
	}
	tok, err := v.Issue("demo", nil, 24*time.Hour)
	if err != nil {
		return demoSettings{}, fmt.Errorf("demo: %w", err)
	}
	return demoSettings{Token: tok, APIKey: cfg.APIKeys[0], User: "demo", WS: cfg.DemoWS}, nil
}

func printDemo(w io.Writer, addr string, d demoSettings) {
	fmt.Fprintf(w, `
alarm gateway demo on http://%[1]s/  (embedded Redis, in memory)

  API key:     %[2]s
  demo token:  %[3]s   (user "demo", 24 h)

  publish:  curl -s -X POST http://%[1]s/v1/alarms -H 'Authorization: Bearer %[2]s' \
              -H 'Content-Type: application/json' -d '{"channel":"user:demo","event":"hello","data":{"text":"hi"}}'
  tail:     gateway tail -url ws://%[1]s/v1/ws -token %[3]s

`, addr, d.APIKey, d.Token)
}

// serveSideListeners starts the admin listener, or the deprecated pprof
// one. The returned func stops what it started.
func serveSideListeners(cfg config, n *node.Node, log *slog.Logger) (func(), error) {
	switch {
	case cfg.AdminAddr != "":
		return serveAdmin(cfg.AdminAddr, n, cfg.AdminPprof, log)
	case cfg.PprofAddr != "":
		log.Warn("gateway: GATEWAY_PPROF_ADDR is deprecated; use GATEWAY_ADMIN_ADDR with GATEWAY_ADMIN_PPROF=true (metrics, readiness detail and pprof off the public port)")
		mux := http.NewServeMux()
		node.RegisterPprof(mux)
		return serveSide("pprof", cfg.PprofAddr, mux, log)
	}
	return func() {}, nil
}

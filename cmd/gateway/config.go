package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/auth"
)

// config is the gateway's environment. Every field is documented in the
// table of docs/configuration.md, and checked by loadConfigFrom: by
// validate (what cmd/gateway owns) and by node.Config.Validate, whose
// field paths nodeFields maps back to these fields (validate.go). An envDefault must equal the Default…
// constant of the package that owns the setting (stream.DefaultMaxLen,
// hub.DefaultWindow, node.DefaultDrainDelay, ws.DefaultHelloTimeout, ...):
// TestConfigDefaults checks both.
type config struct {
	Addr            string        `env:"GATEWAY_ADDR" envDefault:"127.0.0.1:8080"`
	RedisURL        string        `env:"GATEWAY_REDIS_URL"`
	RedisMode       string        `env:"GATEWAY_REDIS_MODE" envDefault:"single"`
	RedisPrefix     string        `env:"GATEWAY_REDIS_PREFIX" envDefault:"alarms"`
	Partitions      int           `env:"GATEWAY_PARTITIONS" envDefault:"1"`
	MinReplicas     int           `env:"GATEWAY_MIN_REPLICAS" envDefault:"0"`
	ReplicaTimeout  time.Duration `env:"GATEWAY_REPLICA_TIMEOUT" envDefault:"1s"`
	JWTSecret       string        `env:"GATEWAY_JWT_SECRET"`
	APIKeys         []string      `env:"GATEWAY_API_KEYS"`
	NodeID          string        `env:"GATEWAY_NODE_ID"`
	StreamMaxLen    int64         `env:"GATEWAY_STREAM_MAXLEN" envDefault:"100000"`
	ChannelBacklog  int64         `env:"GATEWAY_CHANNEL_HISTORY" envDefault:"1000"`
	StreamRetention time.Duration `env:"GATEWAY_STREAM_RETENTION" envDefault:"24h"`
	InboxRetention  time.Duration `env:"GATEWAY_INBOX_RETENTION" envDefault:"720h"`
	DrainDelay      time.Duration `env:"GATEWAY_DRAIN_DELAY" envDefault:"5s"`
	CloseSpread     time.Duration `env:"GATEWAY_CLOSE_SPREAD" envDefault:"1s"`
	ReadTimeout     time.Duration `env:"GATEWAY_HTTP_READ_TIMEOUT" envDefault:"30s"`
	IdleTimeout     time.Duration `env:"GATEWAY_HTTP_IDLE_TIMEOUT" envDefault:"2m"`
	Window          int           `env:"GATEWAY_WINDOW" envDefault:"10000"`
	QueueLen        int           `env:"GATEWAY_QUEUE_LEN" envDefault:"4096"`
	MaxAlarmBytes   int           `env:"GATEWAY_MAX_ALARM_BYTES" envDefault:"65536"`
	AllowedOrigins  []string      `env:"GATEWAY_ALLOWED_ORIGINS"`
	HelloTimeout    time.Duration `env:"GATEWAY_HELLO_TIMEOUT" envDefault:"10s"`
	PingInterval    time.Duration `env:"GATEWAY_PING_INTERVAL" envDefault:"25s"`
	MaxConnections  int           `env:"GATEWAY_MAX_CONNECTIONS" envDefault:"100000"`
	ConnectRate     float64       `env:"GATEWAY_CONNECT_RATE" envDefault:"50"`
	ConnectBurst    int           `env:"GATEWAY_CONNECT_BURST" envDefault:"200"`
	TrustedProxies  []string      `env:"GATEWAY_TRUSTED_PROXIES"`
	PublishRate     float64       `env:"GATEWAY_PUBLISH_RATE" envDefault:"1000"`
	PublishBurst    int           `env:"GATEWAY_PUBLISH_BURST" envDefault:"2000"`
	Demo            *bool         `env:"GATEWAY_DEMO"`
	DemoWS          string        `env:"GATEWAY_DEMO_WS"`
	PprofAddr       string        `env:"GATEWAY_PPROF_ADDR"`
	PprofRemote     bool          `env:"GATEWAY_PPROF_ALLOW_REMOTE"`
	LogFormat       string        `env:"GATEWAY_LOG_FORMAT" envDefault:"text"`
	LogLevel        slog.Level    `env:"GATEWAY_LOG_LEVEL" envDefault:"info"`
	OpsConfig                     // identity provider, TLS, admin listener: ops.go
	// The ingest stream consumer (docs/ingest.md).
	Ingest          bool          `env:"GATEWAY_INGEST" envDefault:"true"`
	IngestBatch     int64         `env:"GATEWAY_INGEST_BATCH" envDefault:"500"`
	IngestClaimIdle time.Duration `env:"GATEWAY_INGEST_CLAIM_IDLE" envDefault:"15s"`
	IngestPubSub    string        `env:"GATEWAY_INGEST_PUBSUB_CHANNEL"`
	// Per-user limits of state changes and inbox reads (limit.UserConfig).
	UserStateRate      float64 `env:"GATEWAY_USER_STATE_RATE" envDefault:"20"`
	UserStateBurst     int     `env:"GATEWAY_USER_STATE_BURST" envDefault:"40"`
	UserInboxReadRate  float64 `env:"GATEWAY_USER_INBOX_READ_RATE" envDefault:"10"`
	UserInboxReadBurst int     `env:"GATEWAY_USER_INBOX_READ_BURST" envDefault:"20"`

	set map[string]bool // the variables given in the environment (not defaulted)
}

// loadConfig reads the process environment; see loadConfigFrom.
func loadConfig() (config, error) { return loadConfigFrom(env.ToMap(os.Environ())) }

// loadConfigFrom parses environ (GATEWAY_* variables) and validates the
// whole configuration, the node's packages included, without starting
// anything. The error is a *configError listing every problem, each
// naming its variable.
func loadConfigFrom(environ map[string]string) (config, error) {
	c := config{set: map[string]bool{}}
	var probs problems
	err := env.ParseWithOptions(&c, env.Options{Environment: environ,
		OnSet: func(key string, _ any, isDefault bool) { c.set[key] = c.set[key] || !isDefault }})
	if err != nil {
		probs.addEnvError(err)
	}
	var lerr error
	if c.APIKeys, lerr = cleanList("GATEWAY_API_KEYS", c.APIKeys); lerr != nil {
		probs.add(lerr)
	}
	if c.AllowedOrigins, lerr = cleanList("GATEWAY_ALLOWED_ORIGINS", c.AllowedOrigins); lerr != nil {
		probs.add(lerr)
	}
	if c.TrustedProxies, lerr = cleanList("GATEWAY_TRUSTED_PROXIES", c.TrustedProxies); lerr != nil {
		probs.add(lerr)
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		c.NodeID = host + "-" + randomHex(3)
	}
	for _, err := range c.validate() {
		probs.add(err)
	}
	for _, err := range c.validateNode() {
		probs.addOnce(err)
	}
	return c, probs.err()
}

func (c *config) embedded() bool { return c.RedisURL == "" }

func (c *config) demo() bool {
	if c.Demo != nil {
		return *c.Demo
	}
	return c.embedded()
}

// cleanList trims the entries of a comma-separated variable and refuses
// an empty one ("k1,,k2", a trailing comma), naming it.
func cleanList(name string, list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	for i, v := range list {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil, fmt.Errorf("%s: entry %d of %d is empty (a stray comma?)", name, i+1, len(list))
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// validate checks what cmd/gateway itself owns: which variables go
// together, the secrets a real deployment needs, the embedded demo and
// the side listeners on loopback. Each error names its variable.
func (c *config) validate() []error {
	errs := c.validateOps()
	if err := c.validatePprof(); err != nil {
		errs = append(errs, err)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("GATEWAY_ADDR: %q: %w", c.Addr, err))
	} else if c.embedded() && !auth.IsLoopbackHost(c.Addr) {
		errs = append(errs, fmt.Errorf("GATEWAY_ADDR: the embedded Redis (no GATEWAY_REDIS_URL) is a demo and listens on loopback only; %q is not loopback", c.Addr))
	}
	switch c.RedisMode {
	case "single", "cluster", "sentinel":
	default:
		errs = append(errs, fmt.Errorf("GATEWAY_REDIS_MODE: %q: want single, cluster or sentinel", c.RedisMode))
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		errs = append(errs, fmt.Errorf("GATEWAY_LOG_FORMAT: %q: want text or json", c.LogFormat))
	}
	if c.embedded() {
		if c.MinReplicas > 0 {
			errs = append(errs, errors.New("GATEWAY_MIN_REPLICAS: the embedded Redis (no GATEWAY_REDIS_URL) has no replicas; leave it 0"))
		}
		return errs
	}
	return append(errs, c.validateSecrets()...)
}

// validateSecrets refuses a deployment with a real Redis that lacks its
// secrets or has weak ones.
func (c *config) validateSecrets() []error {
	var errs, missing []string
	if c.JWTSecret == "" && c.JWKSURL == "" {
		missing = append(missing, "GATEWAY_JWT_SECRET")
	} else if c.JWTSecret != "" && len(c.JWTSecret) < auth.MinSecretLen {
		errs = append(errs, fmt.Sprintf("GATEWAY_JWT_SECRET: must be at least %d bytes (got %d)", auth.MinSecretLen, len(c.JWTSecret)))
	}
	if len(c.APIKeys) == 0 {
		missing = append(missing, "GATEWAY_API_KEYS")
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Sprintf("GATEWAY_REDIS_URL is set, so %s must be set too (refusing to start without secrets)",
			strings.Join(missing, " and ")))
	}
	for i, k := range c.APIKeys {
		if len(k) < auth.MinAPIKeyLen {
			errs = append(errs, fmt.Sprintf("GATEWAY_API_KEYS: key %d of %d is %d characters; at least %d are required", i+1, len(c.APIKeys), len(k), auth.MinAPIKeyLen))
		}
	}
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = errors.New(e)
	}
	return out
}

// validatePprof refuses GATEWAY_PPROF_ADDR off loopback (profiles reveal
// internals and /debug/pprof/profile costs CPU) unless
// GATEWAY_PPROF_ALLOW_REMOTE is set.
func (c *config) validatePprof() error {
	if c.PprofAddr == "" {
		return nil
	}
	return checkLoopbackAddr("GATEWAY_PPROF_ADDR", c.PprofAddr, c.PprofRemote, "GATEWAY_PPROF_ALLOW_REMOTE")
}

// errReplicaReads refuses a Redis URL that routes reads to replicas: a
// lagging replica would look like a rollback, and the feed's continuity
// checks must read what the primary wrote.
var errReplicaReads = errors.New("GATEWAY_REDIS_URL: read_only, replica_only, route_by_latency and route_randomly are not supported: every read must go to the primary")

// redisClient builds the client for GATEWAY_REDIS_URL in GATEWAY_REDIS_MODE.
// Its errors never show the URL's password.
func (c *config) redisClient() (redis.UniversalClient, error) {
	rdb, err := c.parseRedisURL()
	if err != nil {
		return nil, redactError(err, c.RedisURL)
	}
	return rdb, nil
}

func (c *config) parseRedisURL() (redis.UniversalClient, error) {
	switch c.RedisMode {
	case "cluster":
		o, err := redis.ParseClusterURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_REDIS_URL: %w", err)
		}
		if o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, errReplicaReads
		}
		if o.TLSConfig, err = c.redisTLS(o.TLSConfig); err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		if o.ClusterStateReloadInterval == 0 {
			// go-redis reloads the slot map on MOVED, not when the slot's
			// master died: without this it would keep dialing the dead
			// node for up to a minute after a failover.
			o.ClusterStateReloadInterval = time.Second
		}
		return redis.NewClusterClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_REDIS_URL: %w", err)
		}
		if o.ReplicaOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, errReplicaReads
		}
		if o.TLSConfig, err = c.redisTLS(o.TLSConfig); err != nil {
			return nil, err
		}
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_REDIS_URL: %w", err)
	}
	if o.TLSConfig, err = c.redisTLS(o.TLSConfig); err != nil {
		return nil, err
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), nil
}

// redactError rewrites err so that the user information of rawURL (the
// password, and a user name that go-redis may take as one) and the value
// of a password query parameter (the master's password of a Sentinel URL)
// do not appear in it, in any of the forms a parse error may quote it.
func redactError(err error, rawURL string) error {
	var secrets []string
	_, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		rest = rawURL
	}
	userinfo, _, ok := strings.Cut(rest, "@")
	if ok && userinfo != "" && !strings.Contains(userinfo, "/") {
		secrets = append(secrets, userinfo, strconv.Quote(userinfo), url.QueryEscape(userinfo))
		if _, pass, ok := strings.Cut(userinfo, ":"); ok && pass != "" {
			secrets = append(secrets, pass)
			if p, perr := url.PathUnescape(pass); perr == nil {
				secrets = append(secrets, p)
			}
		}
	}
	if _, query, ok := strings.Cut(rawURL, "?"); ok {
		for kv := range strings.SplitSeq(query, "&") {
			if k, v, _ := strings.Cut(kv, "="); strings.HasSuffix(k, "password") && v != "" {
				secrets = append(secrets, v)
				if p, perr := url.QueryUnescape(v); perr == nil {
					secrets = append(secrets, p)
				}
			}
		}
	}
	if len(secrets) == 0 {
		return err
	}
	msg := err.Error()
	if u, perr := url.Parse(rawURL); perr == nil {
		msg = strings.ReplaceAll(msg, rawURL, u.Redacted())
	}
	for _, s := range secrets {
		if s != "" && s != `""` {
			msg = strings.ReplaceAll(msg, s, "xxxxx")
		}
	}
	return errors.New(msg)
}

func (c *config) logger(w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.LogLevel}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

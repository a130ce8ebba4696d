package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/auth"
)

// config is the gateway's environment. Every field is documented in the
// table of docs/configuration.md. An envDefault must equal the Default…
// constant of the package that owns the setting (stream.DefaultMaxLen,
// hub.DefaultWindow, node.DefaultDrainDelay, ws.DefaultHelloTimeout, ...):
// TestConfigDefaults checks both.
type config struct {
	Addr            string        `env:"GATEWAY_ADDR" envDefault:"127.0.0.1:8080"`
	RedisURL        string        `env:"GATEWAY_REDIS_URL"`
	RedisMode       string        `env:"GATEWAY_REDIS_MODE" envDefault:"single"`
	RedisPrefix     string        `env:"GATEWAY_REDIS_PREFIX" envDefault:"alarms"`
	JWTSecret       string        `env:"GATEWAY_JWT_SECRET"`
	APIKeys         []string      `env:"GATEWAY_API_KEYS"`
	NodeID          string        `env:"GATEWAY_NODE_ID"`
	StreamMaxLen    int64         `env:"GATEWAY_STREAM_MAXLEN" envDefault:"100000"`
	ChannelHistory  int64         `env:"GATEWAY_CHANNEL_HISTORY" envDefault:"1000"`
	StreamRetention time.Duration `env:"GATEWAY_STREAM_RETENTION" envDefault:"24h"`
	DrainDelay      time.Duration `env:"GATEWAY_DRAIN_DELAY" envDefault:"5s"`
	CloseSpread     time.Duration `env:"GATEWAY_CLOSE_SPREAD" envDefault:"1s"`
	Window          int           `env:"GATEWAY_WINDOW" envDefault:"10000"`
	QueueLen        int           `env:"GATEWAY_QUEUE_LEN" envDefault:"4096"`
	MaxAlarmBytes   int           `env:"GATEWAY_MAX_ALARM_BYTES" envDefault:"65536"`
	AllowedOrigins  []string      `env:"GATEWAY_ALLOWED_ORIGINS"`
	HelloTimeout    time.Duration `env:"GATEWAY_HELLO_TIMEOUT" envDefault:"10s"`
	PingInterval    time.Duration `env:"GATEWAY_PING_INTERVAL" envDefault:"25s"`
	Demo            *bool         `env:"GATEWAY_DEMO"`
	DemoWS          string        `env:"GATEWAY_DEMO_WS"`
	PprofAddr       string        `env:"GATEWAY_PPROF_ADDR"`
	LogFormat       string        `env:"GATEWAY_LOG_FORMAT" envDefault:"text"`
	LogLevel        slog.Level    `env:"GATEWAY_LOG_LEVEL" envDefault:"info"`
	// The ingest stream consumer (docs/ingest.md).
	Ingest          bool          `env:"GATEWAY_INGEST" envDefault:"true"`
	IngestBatch     int64         `env:"GATEWAY_INGEST_BATCH" envDefault:"500"`
	IngestClaimIdle time.Duration `env:"GATEWAY_INGEST_CLAIM_IDLE" envDefault:"15s"`
	IngestPubSub    string        `env:"GATEWAY_INGEST_PUBSUB_CHANNEL"`
}

func loadConfig() (config, error) {
	var c config
	if err := env.Parse(&c); err != nil {
		return c, explainEnvError(err)
	}
	if c.NodeID == "" {
		host, _ := os.Hostname()
		c.NodeID = host + "-" + randomHex(3)
	}
	return c, c.validate()
}

func (c *config) embedded() bool { return c.RedisURL == "" }

func (c *config) demo() bool {
	if c.Demo != nil {
		return *c.Demo
	}
	return c.embedded()
}

// validate refuses to run a real deployment without its secrets, and an
// embedded one anywhere but loopback.
func (c *config) validate() error {
	if c.embedded() {
		host, _, err := net.SplitHostPort(c.Addr)
		if err != nil {
			return fmt.Errorf("config: GATEWAY_ADDR %q: %w", c.Addr, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("config: the embedded Redis (no GATEWAY_REDIS_URL) is a demo and listens on loopback only; GATEWAY_ADDR %q is not loopback", c.Addr)
		}
		return nil
	}
	var missing []string
	if c.JWTSecret == "" {
		missing = append(missing, "GATEWAY_JWT_SECRET")
	} else if len(c.JWTSecret) < auth.MinSecretLen {
		return fmt.Errorf("config: GATEWAY_JWT_SECRET must be at least %d bytes", auth.MinSecretLen)
	}
	if len(c.APIKeys) == 0 {
		missing = append(missing, "GATEWAY_API_KEYS")
	}
	if len(missing) > 0 {
		return fmt.Errorf("config: GATEWAY_REDIS_URL is set, so %s must be set too (refusing to start without secrets)", strings.Join(missing, " and "))
	}
	switch c.RedisMode {
	case "single", "cluster", "sentinel":
	default:
		return fmt.Errorf("config: GATEWAY_REDIS_MODE %q: want single, cluster or sentinel", c.RedisMode)
	}
	return nil
}

// errReplicaReads refuses a Redis URL that routes reads to replicas: a
// lagging replica would look like a rollback, and the feed's continuity
// checks must read what the primary wrote.
var errReplicaReads = errors.New("config: GATEWAY_REDIS_URL: read_only, replica_only, route_by_latency and route_randomly are not supported: every read must go to the primary")

// redisClient builds the client for GATEWAY_REDIS_URL in GATEWAY_REDIS_MODE.
func (c *config) redisClient() (redis.UniversalClient, error) {
	switch c.RedisMode {
	case "cluster":
		o, err := redis.ParseClusterURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("config: GATEWAY_REDIS_URL: %w", err)
		}
		if o.ReadOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, errReplicaReads
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	case "sentinel":
		o, err := redis.ParseFailoverURL(c.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("config: GATEWAY_REDIS_URL: %w", err)
		}
		if o.ReplicaOnly || o.RouteByLatency || o.RouteRandomly {
			return nil, errReplicaReads
		}
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	}
	o, err := redis.ParseURL(c.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("config: GATEWAY_REDIS_URL: %w", err)
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), nil
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

// explainEnvError names the variable a parse error is about (caarlos0/env
// names the struct field).
func explainEnvError(err error) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("config: %w", err)
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			if f, ok := reflect.TypeOf(config{}).FieldByName(pe.Name); ok {
				msgs = append(msgs, fmt.Sprintf("%s: %v", f.Tag.Get("env"), pe.Err))
				continue
			}
		}
		msgs = append(msgs, e.Error())
	}
	return fmt.Errorf("config: %s", strings.Join(msgs, "; "))
}

package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"time"
)

// ErrInvalidConfig reports a Config that New rejects.
var ErrInvalidConfig = errors.New("client: invalid config")

// Config configures a Client. Endpoints and Token are required; every other
// field has a default.
type Config struct {
	// Endpoints are the gateway WebSocket URLs (ws://host:port/v1/ws or
	// wss://…; http and https are accepted too). Required. The first connect
	// goes to a random one, every reconnect to the next one (round robin).
	Endpoints []string

	// Token returns the JWT for the hello message. Required. It is called
	// before every connect, so a callback that mints or refreshes tokens
	// recovers from a 4001 close. It runs on Run's goroutine (and on an
	// InboxView's, unless InboxViewConfig.Token is set); if it fails, Run
	// returns its error, so retry inside it when failures are transient.
	Token func(ctx context.Context) (string, error)

	// LastID and Epoch are the initial position, as returned by Position
	// of an earlier Client (optional). Both empty: start at the newest alarm.
	LastID, Epoch string

	// MinBackoff is the first reconnect delay ceiling. Default 100ms.
	MinBackoff time.Duration

	// MaxBackoff caps the exponential reconnect delay. Default 10s. Delays
	// use full jitter (uniform in [0, ceiling]) and reset after a welcome.
	MaxBackoff time.Duration

	// DialTimeout bounds the WebSocket handshake, and separately the time
	// from hello to welcome. Default 5s.
	DialTimeout time.Duration

	// IdleTimeout: when nothing is received for this long, the client drops
	// the connection and reconnects. Default 60s (the server sends a ping
	// message after 25s of silence).
	IdleTimeout time.Duration

	// HTTPHeader is sent with the WebSocket handshake (e.g. Origin).
	HTTPHeader http.Header

	// HTTPClient performs the WebSocket handshake. Default http.DefaultClient.
	HTTPClient *http.Client

	// Logger receives connection events. Default: discard.
	Logger *slog.Logger

	// Rand returns a number in [0, 1) for jitter and endpoint order.
	// Default math/rand/v2.Float64. It is called from New and from Run's
	// goroutine; share one between Clients only if it is safe for
	// concurrent use.
	Rand func() float64
}

// Defaults applied by New to zero fields.
const (
	DefaultMinBackoff  = 100 * time.Millisecond
	DefaultMaxBackoff  = 10 * time.Second
	DefaultDialTimeout = 5 * time.Second
	DefaultIdleTimeout = 60 * time.Second
)

// readLimit is the largest WebSocket message the client accepts.
const readLimit = 1 << 20

// withDefaults validates cfg and returns a copy with defaults applied.
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Endpoints) == 0 {
		return cfg, fmt.Errorf("%w: no endpoints", ErrInvalidConfig)
	}
	for _, e := range cfg.Endpoints {
		u, err := url.Parse(e)
		if err != nil || u.Host == "" {
			return cfg, fmt.Errorf("%w: endpoint %q is not a URL", ErrInvalidConfig, e)
		}
		switch u.Scheme {
		case "ws", "wss", "http", "https":
		default:
			return cfg, fmt.Errorf("%w: endpoint %q: scheme must be ws or wss", ErrInvalidConfig, e)
		}
	}
	if cfg.Token == nil {
		return cfg, fmt.Errorf("%w: Token is required", ErrInvalidConfig)
	}
	durations := []struct {
		name string
		v    *time.Duration
		def  time.Duration
	}{
		{"MinBackoff", &cfg.MinBackoff, DefaultMinBackoff},
		{"MaxBackoff", &cfg.MaxBackoff, DefaultMaxBackoff},
		{"DialTimeout", &cfg.DialTimeout, DefaultDialTimeout},
		{"IdleTimeout", &cfg.IdleTimeout, DefaultIdleTimeout},
	}
	for _, d := range durations {
		if *d.v < 0 {
			return cfg, fmt.Errorf("%w: %s is negative", ErrInvalidConfig, d.name)
		}
		if *d.v == 0 {
			*d.v = d.def
		}
	}
	if cfg.MinBackoff > cfg.MaxBackoff {
		return cfg, fmt.Errorf("%w: MinBackoff > MaxBackoff", ErrInvalidConfig)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Float64
	}
	cfg.Endpoints = append([]string(nil), cfg.Endpoints...)
	return cfg, nil
}

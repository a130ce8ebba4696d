package limit

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/metrics"
)

// Defaults of ConnConfig, applied by NewConns to zero fields.
const (
	DefaultMaxConnections = 100000
	DefaultConnectRate    = 50.0
	DefaultConnectBurst   = 200
)

// ConnConfig is a node's connection budget, shared by its transports
// (WebSocket and SSE alike).
type ConnConfig struct {
	// MaxConnections caps the node's open connections; one beyond it is
	// refused with 503 (Retry-After) before it starts. Default
	// DefaultMaxConnections (100000); negative: no cap.
	MaxConnections int
	// ConnectRate is the connection attempts per second one source
	// address may make, with ConnectBurst at once; more are refused with
	// 429 (Retry-After) before they start. The source is the TCP peer or,
	// when that is one of TrustedProxies, the client it forwards for
	// (Source). Defaults DefaultConnectRate (50) and DefaultConnectBurst
	// (200); a negative rate: no limit.
	ConnectRate  float64
	ConnectBurst int
	// TrustedProxies are the addresses ("10.0.0.5", "fd00::1") and
	// networks in CIDR notation ("10.0.0.0/8") of the proxies whose
	// X-Forwarded-For the node believes (Source). Default none: the source
	// is always the TCP peer, whatever a request's headers say.
	TrustedProxies []string
}

// Conns admits connections within a node's budget: the attempts per
// source address and the open connections. One Conns serves every
// transport of a node. It is safe for concurrent use.
type Conns struct {
	cfg      ConnConfig
	trusted  []netip.Prefix // TrustedProxies, parsed
	m        *metrics.Metrics
	connects *Keyed[string] // attempts per source address
	open     atomic.Int64   // admitted and not yet released
}

// Refusal is why a connection was not admitted, and how to answer it.
type Refusal struct {
	// Status is 429 (connect rate) or 503 (the node's cap).
	Status int
	// Wait is the Retry-After to send (see RetryAfter).
	Wait time.Duration
	// Reason is the metrics label: metrics.LimitConnectRate or
	// metrics.LimitConnections.
	Reason string
	// Message is a short text for people.
	Message string
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c ConnConfig) Validate() error {
	rate := Rate{PerSecond: c.ConnectRate, Burst: c.ConnectBurst}.Validate()
	_, perr := parseProxies(c.TrustedProxies)
	return errors.Join(defaults.Rename(defaults.Rename(rate, "PerSecond", "ConnectRate"), "Burst", "ConnectBurst"), perr)
}

// NewConns validates cfg and returns its budget. now is the clock
// (time.Now when nil); a nil m gets private metrics.
func NewConns(cfg ConnConfig, m *metrics.Metrics, now func() time.Time) (*Conns, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("limit: invalid connection config: %w", err)
	}
	defaults.Set(&cfg.MaxConnections, DefaultMaxConnections)
	defaults.Set(&cfg.ConnectRate, DefaultConnectRate)
	defaults.Set(&cfg.ConnectBurst, DefaultConnectBurst)
	if m == nil {
		m = metrics.New(nil)
	}
	trusted, _ := parseProxies(cfg.TrustedProxies) // validated above
	return &Conns{cfg: cfg, trusted: trusted, m: m,
		connects: NewKeyed[string](Rate{PerSecond: cfg.ConnectRate, Burst: cfg.ConnectBurst}, now)}, nil
}

// Admit applies the budget to a connection of transport (a metrics label:
// "ws", "sse") from remoteAddr (Source of its request; a host:port is
// taken by its host). When it reports
// true the connection holds a slot until Release(transport); otherwise the
// refusal is counted and says how to answer.
func (c *Conns) Admit(remoteAddr, transport string) (Refusal, bool) {
	if ok, wait := c.connects.Allow(sourceAddr(remoteAddr)); !ok {
		return c.refuse(transport, Refusal{Status: http.StatusTooManyRequests, Wait: wait,
			Reason: metrics.LimitConnectRate, Message: "too many connection attempts from this address"}), false
	}
	n := c.open.Add(1)
	if c.cfg.MaxConnections >= 0 && n > int64(c.cfg.MaxConnections) {
		c.open.Add(-1)
		return c.refuse(transport, Refusal{Status: http.StatusServiceUnavailable, Wait: time.Second,
			Reason: metrics.LimitConnections, Message: "this node holds its maximum of connections"}), false
	}
	c.m.ConnSlots.WithLabelValues(transport).Inc()
	return Refusal{}, true
}

// Release gives back the slot of a connection Admit admitted.
func (c *Conns) Release(transport string) {
	c.open.Add(-1)
	c.m.ConnSlots.WithLabelValues(transport).Dec()
}

// Open reports how many connections hold a slot.
func (c *Conns) Open() int64 { return c.open.Load() }

func (c *Conns) refuse(transport string, r Refusal) Refusal {
	c.m.Limited.WithLabelValues(r.Reason).Inc()
	c.m.ConnsRefused.WithLabelValues(r.Reason, transport).Inc()
	return r
}

// sourceAddr is the host part of a request's RemoteAddr.
func sourceAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

package sse

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/cors"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/transport"
	"github.com/alarmgate/alarmgate/protocol"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultWriteTimeout  = 10 * time.Second
	DefaultHeartbeat     = 20 * time.Second
	DefaultRetry         = time.Second
	DefaultMaxWriteBytes = 256 << 10
)

// Config configures the SSE endpoint.
type Config struct {
	// WriteTimeout bounds each write (and flush) of events. Default 10s.
	WriteTimeout time.Duration
	// Heartbeat is the idle time after which a heartbeat is written.
	// Default 20s.
	Heartbeat time.Duration
	// Retry is the reconnect delay sent in `retry:`; each stream adds up
	// to the same again as jitter. Default 1s.
	Retry time.Duration
	// CatchUpTimeout bounds the wait for a last id ahead of the node. One
	// older than the window waits for its turn to read the channel
	// backlogs without it (see transport.Resumer.Resume). Default 3s.
	CatchUpTimeout time.Duration
	// MaxWriteBytes caps the events coalesced into one write. Default
	// 256 KiB.
	MaxWriteBytes int
	// TicketTTL is how long a ticket is accepted. Default
	// auth.DefaultTicketTTL.
	TicketTTL time.Duration
	// AllowedOrigins are the host patterns (path.Match syntax, as the
	// WebSocket's) of pages on other origins that may get tickets and
	// open streams; see package cors. Default none: the node's own host
	// only.
	AllowedOrigins []string
}

// Server serves GET /v1/sse and POST /v1/sse/ticket. It is safe for
// concurrent use.
//
// Goroutines: a stream runs on its HTTP handler's goroutine, which writes
// every event; nothing else writes to it. Shutdown waits for the streams
// it ends.
//
// Locks: the lock of streams is a leaf; nothing is called under it.
type Server struct {
	cfg     Config
	parts   transport.Partitions // a stream is served from its token's partition
	verify  *auth.Verifier
	tickets *auth.Tickets
	conns   *limit.Conns // the node's connection budget, shared with the WebSocket
	cors    *cors.Policy // which pages on other origins may call
	m       *metrics.Metrics
	log     *slog.Logger

	streams transport.ConnSet[*stream] // from Add to Remove; refused with 1012 once closing
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c Config) Validate() error {
	return errors.Join(
		defaults.Min("WriteTimeout", c.WriteTimeout, time.Millisecond),
		defaults.Min("Heartbeat", c.Heartbeat, time.Millisecond),
		defaults.Min("Retry", c.Retry, time.Millisecond),
		defaults.Min("CatchUpTimeout", c.CatchUpTimeout, time.Millisecond),
		defaults.Min("MaxWriteBytes", c.MaxWriteBytes, 1024),
		defaults.Rename(auth.TicketConfig{TTL: c.TicketTTL, Secret: make([]byte, auth.MinSecretLen)}.Validate(), "TTL", "TicketTTL"),
		defaults.Patterns("AllowedOrigins", c.AllowedOrigins),
	)
}

// New validates cfg and returns a Server serving streams from parts (one
// partition, or the node's P: see transport.Partitions; a partition's
// Backfill may be nil: resumes older than the window are answered
// expired). tickets are made with the same secret as v's tokens (see
// auth.NewTickets). conns is the node's connection budget, shared with its other
// transports; nil: one of the server's own, with the defaults.
func New(cfg Config, parts []transport.Partition, v *auth.Verifier, tickets *auth.Tickets, conns *limit.Conns, m *metrics.Metrics, log *slog.Logger) (*Server, error) {
	if v == nil || tickets == nil {
		return nil, errors.New("sse: verifier and tickets are required")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sse: invalid config: %w", err)
	}
	defaults.Set(&cfg.WriteTimeout, DefaultWriteTimeout)
	defaults.Set(&cfg.Heartbeat, DefaultHeartbeat)
	defaults.Set(&cfg.Retry, DefaultRetry)
	defaults.Set(&cfg.CatchUpTimeout, transport.DefaultCatchUpTimeout)
	defaults.Set(&cfg.MaxWriteBytes, DefaultMaxWriteBytes)
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if conns == nil {
		var err error
		if conns, err = limit.NewConns(limit.ConnConfig{}, m, nil); err != nil {
			return nil, fmt.Errorf("sse: %w", err)
		}
	}
	policy, err := cors.New(cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("sse: %w", err)
	}
	ps, err := transport.NewPartitions(parts, cfg.CatchUpTimeout)
	if err != nil {
		return nil, fmt.Errorf("sse: %w", err)
	}
	return &Server{cfg: cfg, parts: ps, verify: v, tickets: tickets,
		conns: conns, cors: policy, m: m, log: log}, nil
}

// Register adds the SSE routes to mux.
func (s *Server) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /v1/sse", s.serveStream)
	mux.HandleFunc("POST /v1/sse/ticket", s.serveTicket)
	mux.Handle("OPTIONS /v1/sse/ticket", s.preflight())
}

// ticketResponse is the body of a successful POST /v1/sse/ticket.
type ticketResponse struct {
	Ticket    string `json:"ticket"`
	ExpiresAt int64  `json:"expires_at"` // unix ms
}

// serveTicket trades the client JWT in the Authorization header for a
// ticket.
func (s *Server) serveTicket(w http.ResponseWriter, r *http.Request) {
	if !s.allowOrigin(w, r) {
		return
	}
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || token == "" {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "missing bearer token")
		return
	}
	claims, err := s.verify.Verify(token)
	if err != nil {
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "invalid or expired token")
		return
	}
	t, exp, err := s.tickets.Issue(claims)
	if err != nil {
		s.log.Error("sse: issue ticket", "err", err)
		writeError(w, http.StatusInternalServerError, protocol.CodeInternal, "cannot issue ticket")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(ticketResponse{Ticket: t, ExpiresAt: exp.UnixMilli()})
}

// serveStream applies the node's connection budget, checks the ticket,
// then runs the stream on this goroutine until it ends. A stream beyond
// the budget is refused as the WebSocket's upgrade is: 429 (the source's
// connect rate) or 503 (the node's cap), with Retry-After.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) {
	if !s.allowOrigin(w, r) {
		return
	}
	ref, ok := s.conns.Admit(s.conns.Source(r), transportLabel)
	if !ok {
		w.Header().Set("Retry-After", limit.RetryAfter(ref.Wait))
		code := protocol.CodeRateLimited
		if ref.Status == http.StatusServiceUnavailable {
			code = protocol.CodeUnavailable
		}
		writeError(w, ref.Status, code, ref.Message)
		return
	}
	defer s.conns.Release(transportLabel)
	claims, err := s.tickets.Verify(r.URL.Query().Get("ticket"))
	if err != nil {
		s.log.Debug("sse: ticket rejected", "remote", s.conns.Source(r), "err", err)
		writeError(w, http.StatusUnauthorized, protocol.CodeUnauthorized, "missing, invalid or expired ticket")
		return
	}
	st := newStream(s, w, r, claims)
	added := s.streams.Add(st)
	defer s.streams.Remove(st)
	if !added {
		st.refuse(protocol.CloseRestart, "node draining")
		return
	}
	st.run()
}

// Shutdown refuses new streams (they get a 1012 close event at once) and
// ends every open one with a 1012 close event, spread evenly over spread
// so browsers do not reconnect all at once. It returns when every stream
// has ended, or ends the rest at once when ctx ends and returns ctx.Err()
// once they have.
func (s *Server) Shutdown(ctx context.Context, spread time.Duration) error {
	return s.streams.Drain(ctx, spread,
		func(st *stream) { st.close(protocol.CloseRestart, "node restarting") },
		(*stream).abort)
}

// writeError writes the API's error shape.
func writeError(w http.ResponseWriter, status int, code protocol.ErrorCode, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

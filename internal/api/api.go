package api

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/cors"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// Route patterns, as registered on the mux and used as the route label of
// the HTTPRequests metric.
const (
	RoutePublish    = "POST /v1/alarms"
	RouteBatch      = "POST /v1/alarms/batch"
	RouteListAlarms = "GET /v1/alarms"
)

// Limits of the alarm listing, GET /v1/alarms. The default is the store's,
// so a query without limit and a ListAlarms call with limit 0 agree.
const (
	DefaultListingLimit = stream.DefaultListingLimit
	MaxListingLimit     = 1000
)

// BodyOverhead is the room a publish body has beyond the largest encoded
// alarm, for its JSON envelope.
const BodyOverhead = 4 << 10

// Defaults applied by New to zero Config fields.
const (
	DefaultMaxBodyBytes  = stream.DefaultMaxAlarmBytes + BodyOverhead
	DefaultMaxBatchBytes = 8 << 20
	DefaultMaxBatch      = 1000
	DefaultTimeout       = 5 * time.Second
	DefaultPublishRate   = 1000.0
	DefaultPublishBurst  = 2000
	DefaultRefusalHold   = time.Second
)

// Config configures the API. Zero fields take their defaults.
type Config struct {
	// MaxBodyBytes limits the body of POST /v1/alarms; default
	// DefaultMaxBodyBytes, 68 KiB (a 64 KiB alarm plus BodyOverhead).
	MaxBodyBytes int64
	// MaxBatchBytes limits the body of POST /v1/alarms/batch; default 8 MiB.
	MaxBatchBytes int64
	// MaxBatch is the most alarms one batch may hold; default 1000.
	MaxBatch int
	// Timeout is the deadline of each store call; default 5s.
	Timeout time.Duration
	// PublishRate is the publish requests (single or batch) per second
	// each API key may make, with PublishBurst at once; more get 429 with
	// Retry-After. Defaults DefaultPublishRate (1000) and
	// DefaultPublishBurst (2000); a negative rate: no limit.
	PublishRate  float64
	PublishBurst int
	// AllowedOrigins are the host patterns (path.Match syntax, as the
	// WebSocket's) of pages on other origins that may call the inbox
	// routes; see package cors and cors.go. Default none: the node's own
	// host only. The routes of API keys never answer other origins.
	AllowedOrigins []string
	// RefusalHold is the longest a request refused by its user's inbox
	// limit waits before its 429 is written: it waits the Retry-After it
	// is told, at most RefusalHold, so a client that retries at once on
	// the same connection slows to the limit instead of spending the
	// node's CPU (as a refused WebSocket is not read for that long).
	// Default DefaultRefusalHold (1s); negative: answer at once.
	RefusalHold time.Duration
}

// API serves the publish and alarm listing endpoints. It is safe for concurrent
// use; all its fields are read-only after New.
type API struct {
	cfg     Config
	store   Store
	keys    *auth.Keys
	m       *metrics.Metrics
	log     *slog.Logger
	pubRate *limit.Keyed[[sha256.Size]byte] // publish requests per API key digest
	inbox   InboxStore                      // set by WithInbox; nil: no inbox routes
	verify  *auth.Verifier                  // set by WithInbox; client tokens of the inbox routes
	cors    *cors.Policy                    // which pages on other origins may call the inbox routes
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c Config) Validate() error {
	rate := limit.Rate{PerSecond: c.PublishRate, Burst: c.PublishBurst}.Validate()
	rate = defaults.Rename(defaults.Rename(rate, "PerSecond", "PublishRate"), "Burst", "PublishBurst")
	return errors.Join(
		defaults.NonNegative("MaxBodyBytes", c.MaxBodyBytes),
		defaults.NonNegative("MaxBatchBytes", c.MaxBatchBytes),
		defaults.NonNegative("MaxBatch", c.MaxBatch),
		defaults.Min("Timeout", c.Timeout, time.Millisecond),
		rate,
		defaults.Patterns("AllowedOrigins", c.AllowedOrigins),
	)
}

// New validates cfg, applies defaults and returns the API. store and keys
// are required; a nil m gets private metrics and a nil log discards.
func New(cfg Config, store Store, keys *auth.Keys, m *metrics.Metrics, log *slog.Logger) (*API, error) {
	if store == nil {
		return nil, errors.New("api: nil store")
	}
	if keys == nil {
		return nil, errors.New("api: nil keys")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api: invalid config: %w", err)
	}
	defaults.Set(&cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	defaults.Set(&cfg.MaxBatchBytes, DefaultMaxBatchBytes)
	defaults.Set(&cfg.MaxBatch, DefaultMaxBatch)
	defaults.Set(&cfg.Timeout, DefaultTimeout)
	defaults.Set(&cfg.PublishRate, DefaultPublishRate)
	defaults.Set(&cfg.PublishBurst, DefaultPublishBurst)
	defaults.Set(&cfg.RefusalHold, DefaultRefusalHold)
	policy, err := cors.New(cfg.AllowedOrigins)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	if m == nil {
		m = metrics.New(nil)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &API{cfg: cfg, store: store, keys: keys, m: m, log: log, cors: policy,
		pubRate: limit.NewKeyed[[sha256.Size]byte](limit.Rate{PerSecond: cfg.PublishRate, Burst: cfg.PublishBurst}, nil)}, nil
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.Handle(RoutePublish, a.route(RoutePublish, a.cfg.MaxBodyBytes, a.keyAuth, a.publish))
	mux.Handle(RouteBatch, a.route(RouteBatch, a.cfg.MaxBatchBytes, a.keyAuth, a.publishBatch))
	mux.Handle(RouteListAlarms, a.route(RouteListAlarms, 0, a.keyAuth, a.listAlarms))
	if a.inbox != nil {
		mux.Handle(RouteInbox, a.crossOrigin(RouteInbox, a.route(RouteInbox, 0, a.inboxAuth, a.readInbox)))
		mux.Handle(RouteInboxState, a.crossOrigin(RouteInboxState,
			a.route(RouteInboxState, maxStateBody, a.inboxAuth, a.changeState)))
		mux.Handle(routeInboxPreflight, a.preflight(routeInboxPreflight, http.MethodGet))
		mux.Handle(routeInboxStatePreflight, a.preflight(routeInboxStatePreflight, http.MethodPost))
	}
}

// authFunc checks the caller of r, whose bearer token is key ("" when
// there is none). It returns the request to serve (carrying what the check
// learned) and the digest that names the caller for the publish limit.
type authFunc func(r *http.Request, key string) (*http.Request, [sha256.Size]byte, *apiError)

// keyAuth accepts an API key only.
func (a *API) keyAuth(r *http.Request, key string) (*http.Request, [sha256.Size]byte, *apiError) {
	digest, ok := a.keys.Match(key) // "" never matches a key
	if !ok {
		return r, digest, &apiError{status: http.StatusUnauthorized, code: protocol.CodeUnauthorized,
			message: "missing or invalid API key"}
	}
	return r, digest, nil
}

// handlerFunc serves an authenticated request. It returns the answer's
// status and body, or an error answer.
type handlerFunc func(w http.ResponseWriter, r *http.Request) (int, any, *apiError)

// route wraps h: it checks the API key before anything else, then (when
// maxBody > 0, i.e. for a POST) the content type and body size, and writes
// the answer, logs 5xx answers and counts the request.
func (a *API) route(pattern string, maxBody int64, authn authFunc, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status, body, aerr := a.serve(w, r, maxBody, authn, h)
		var b []byte
		if aerr == nil {
			var err error
			if b, err = json.Marshal(body); err != nil {
				aerr = &apiError{status: http.StatusInternalServerError, code: protocol.CodeInternal,
					message: "internal error", cause: fmt.Errorf("api: encode answer: %w", err)}
			}
		}
		if aerr != nil {
			a.hold(r, aerr)
			status = a.writeError(w, r, pattern, aerr)
		} else {
			writeBody(w, status, b)
		}
		a.m.HTTPRequests.WithLabelValues(pattern, strconv.Itoa(status)).Inc()
	})
}

func (a *API) serve(w http.ResponseWriter, r *http.Request, maxBody int64, authn authFunc, h handlerFunc) (int, any, *apiError) {
	key, _ := auth.BearerToken(r.Header.Get("Authorization"))
	r, digest, aerr := authn(r, key)
	if aerr != nil {
		closeUnread(w, r)
		if aerr.status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="alarmgate"`)
		}
		return 0, nil, aerr
	}
	if maxBody > 0 {
		if ok, wait := a.pubRate.Allow(digest); !ok {
			closeUnread(w, r)
			a.m.Limited.WithLabelValues(metrics.LimitPublishRate).Inc()
			w.Header().Set("Retry-After", limit.RetryAfter(wait))
			return 0, nil, &apiError{status: http.StatusTooManyRequests, code: protocol.CodeRateLimited,
				message: "too many publish requests for this API key; retry later"}
		}
		if !isJSON(r.Header.Get("Content-Type")) {
			closeUnread(w, r)
			return 0, nil, &apiError{status: http.StatusUnsupportedMediaType, code: protocol.CodeUnsupportedMediaType,
				message: "Content-Type must be application/json"}
		}
		if r.ContentLength > maxBody {
			closeUnread(w, r)
			return 0, nil, tooLarge("request body exceeds " + strconv.FormatInt(maxBody, 10) + " bytes")
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	}
	return h(w, r)
}

// closeUnread makes net/http close the connection of a request whose body
// is left unread, instead of draining it. Connection: close stops the drain
// before the answer (without it a client that never finishes its body
// would wait for its 401); the read deadline in the past stops the drain
// net/http still tries after the answer, so the socket is freed at once
// rather than at the server's read timeout.
func closeUnread(w http.ResponseWriter, r *http.Request) {
	if r.ContentLength == 0 {
		return
	}
	w.Header().Set("Connection", "close")
	_ = http.NewResponseController(w).SetReadDeadline(time.Now()) // not supported by recorders: harmless
}

// isJSON reports whether a Content-Type value is application/json, with
// any parameters.
func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

// hold waits before a refusal that asks for it (apiError.hold, at most
// Config.RefusalHold), or until the client goes away.
func (a *API) hold(r *http.Request, e *apiError) {
	d := min(e.hold, a.cfg.RefusalHold)
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-r.Context().Done():
	}
}

// writeError writes an error answer and logs it once when it is a 5xx. It
// returns the status written.
func (a *API) writeError(w http.ResponseWriter, r *http.Request, pattern string, e *apiError) int {
	switch {
	case e.retryAfter > 0:
		w.Header().Set("Retry-After", limit.RetryAfter(e.retryAfter))
	case e.status == http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	if e.status >= 500 {
		a.log.LogAttrs(r.Context(), level(e), "api: request failed",
			slog.String("route", pattern), slog.Int("status", e.status),
			slog.String("code", string(e.code)), slog.Any("err", e.cause))
	}
	b, _ := json.Marshal(struct {
		Error errorBody `json:"error"`
	}{e.body()}) // cannot fail: two strings
	writeBody(w, e.status, b)
	return e.status
}

// level logs unavailability (an operational state) as a warning and
// anything else as an error.
func level(e *apiError) slog.Level {
	if e.status == http.StatusServiceUnavailable {
		return slog.LevelWarn
	}
	return slog.LevelError
}

// writeBody writes an encoded JSON answer.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

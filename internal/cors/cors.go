// Package cors is the gateway's one origin policy for browsers on other
// origins: which pages may call an HTTP route (the SSE ticket and stream,
// the inbox routes), and the CORS headers of their answers and preflights.
//
// An origin is allowed when it is the request's own host, or when it
// matches one of the allowed-origin patterns as coder/websocket matches a
// WebSocket's OriginPatterns: path.Match syntax, case-insensitive, against
// the origin's host[:port], or against scheme://host[:port] for a pattern
// with "://". The WebSocket upgrade uses the same list, so one setting
// covers every transport.
//
// The gateway uses no cookies: a request carries a bearer token or a
// ticket, or nothing usable. So an allowed origin is echoed in
// Access-Control-Allow-Origin and Access-Control-Allow-Credentials is
// never sent.
package cors

import (
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// MaxAge is how long a browser may cache a preflight answer.
const MaxAge = 10 * time.Minute

// exposed are the answer headers a page may read besides the safelisted
// ones: Retry-After, so it can wait as a 429 or 503 asks.
const exposed = "Retry-After"

// Policy decides which origins may call and writes the CORS headers. It is
// read-only after New, so safe for concurrent use.
type Policy struct {
	patterns []string // lowercased
}

// New returns the policy of the allowed-origin patterns (path.Match
// syntax; see the package comment). None: the request's own host only. It
// refuses a pattern path.Match cannot parse, or an empty one.
func New(patterns []string) (*Policy, error) {
	if err := defaults.Patterns("AllowedOrigins", patterns); err != nil {
		return nil, fmt.Errorf("cors: %w", err)
	}
	p := &Policy{patterns: make([]string, len(patterns))}
	for i, s := range patterns {
		p.patterns[i] = strings.ToLower(s)
	}
	return p, nil
}

// Allowed reports whether r may be served: it has no Origin header
// (same-origin GET, or not a browser), its Origin is r's own host, or it
// matches a pattern. An Origin that is not a URL with a host ("null" from
// a sandboxed page or a file) is refused.
func (p *Policy) Allowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	host := strings.ToLower(u.Host)
	full := strings.ToLower(u.Scheme) + "://" + host
	for _, pat := range p.patterns {
		target := host
		if strings.Contains(pat, "://") {
			target = full
		}
		if ok, _ := path.Match(pat, target); ok {
			return true
		}
	}
	return false
}

// Allow adds Vary: Origin to w (the answer depends on it either way) and,
// when r is allowed and has an Origin, echoes it in
// Access-Control-Allow-Origin and exposes Retry-After. It reports whether
// r is allowed; the caller answers a refused request 403 forbidden in its
// own error shape.
func (p *Policy) Allow(w http.ResponseWriter, r *http.Request) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	if !p.Allowed(r) {
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		h.Set("Access-Control-Allow-Origin", o)
		h.Set("Access-Control-Expose-Headers", exposed)
	}
	return true
}

// Preflight returns the handler of a route's OPTIONS requests: an allowed
// origin gets 204 with Access-Control-Allow-Methods methods,
// Access-Control-Allow-Headers headers and Access-Control-Max-Age; a
// refused one is answered by refuse, which should write 403 forbidden.
func (p *Policy) Preflight(methods, headers []string, refuse http.HandlerFunc) http.Handler {
	allowMethods := strings.Join(methods, ", ")
	allowHeaders := strings.Join(headers, ", ")
	maxAge := strconv.Itoa(int(MaxAge / time.Second))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.Allow(w, r) {
			refuse(w, r)
			return
		}
		h := w.Header()
		h.Set("Access-Control-Allow-Methods", allowMethods)
		h.Set("Access-Control-Allow-Headers", allowHeaders)
		h.Set("Access-Control-Max-Age", maxAge)
		w.WriteHeader(http.StatusNoContent)
	})
}

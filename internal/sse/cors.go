package sse

import (
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/alarmgate/alarmgate/protocol"
)

// corsMaxAge is how long (seconds) a browser may cache a preflight answer.
const corsMaxAge = "600"

// Cross-origin requests. A page on another origin trades its token for a
// ticket with fetch (a POST with an Authorization header, so the browser
// asks first with a preflight) and opens an EventSource without
// credentials; both need Access-Control-Allow-Origin. The gateway uses no
// cookies: a request carries a bearer token or a ticket, or nothing
// usable, so no Access-Control-Allow-Credentials is ever sent. Origins
// are the WebSocket's: the node's own host and the AllowedOrigins
// patterns, matched as coder/websocket matches them.

// originAllowed reports whether r may be served: it has no Origin header
// (same-origin GET, or not a browser), its Origin is the request's own
// host, or it matches a pattern.
func (s *Server) originAllowed(r *http.Request) bool {
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
	for _, p := range s.cfg.AllowedOrigins {
		target := u.Host
		if strings.Contains(p, "://") {
			target = u.Scheme + "://" + u.Host
		}
		if ok, _ := path.Match(strings.ToLower(p), strings.ToLower(target)); ok {
			return true
		}
	}
	return false
}

// allowOrigin checks r's Origin and, for an allowed one, echoes it in
// Access-Control-Allow-Origin. A refused origin gets 403 and false.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	w.Header().Add("Vary", "Origin")
	if !s.originAllowed(r) {
		s.log.Debug("sse: origin refused", "origin", r.Header.Get("Origin"), "host", r.Host)
		writeError(w, http.StatusForbidden, protocol.CodeForbidden, "origin not allowed")
		return false
	}
	if o := r.Header.Get("Origin"); o != "" {
		w.Header().Set("Access-Control-Allow-Origin", o)
	}
	return true
}

// servePreflight answers the browser's OPTIONS before a cross-origin
// POST /v1/sse/ticket.
func (s *Server) servePreflight(w http.ResponseWriter, r *http.Request) {
	if !s.allowOrigin(w, r) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", http.MethodPost)
	h.Set("Access-Control-Allow-Headers", "Authorization")
	h.Set("Access-Control-Max-Age", corsMaxAge)
	w.WriteHeader(http.StatusNoContent)
}

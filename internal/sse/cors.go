package sse

import (
	"net/http"

	"github.com/alarmgate/alarmgate/protocol"
)

// Cross-origin requests. A page on another origin trades its token for a
// ticket with fetch (a POST with an Authorization header, so the browser
// asks first with a preflight) and opens an EventSource without
// credentials; both need Access-Control-Allow-Origin. Which origins may,
// and the headers, are the node's one policy (package cors): the node's
// own host and the AllowedOrigins patterns, matched as coder/websocket
// matches them, never with credentials.

// allowOrigin checks r's Origin and, for an allowed one, sets the CORS
// headers. A refused origin gets 403 and false.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request) bool {
	if !s.cors.Allow(w, r) {
		s.refuseOrigin(w, r)
		return false
	}
	return true
}

// refuseOrigin answers a request from an origin not allowed.
func (s *Server) refuseOrigin(w http.ResponseWriter, r *http.Request) {
	s.log.Debug("sse: origin refused", "origin", r.Header.Get("Origin"), "host", r.Host)
	writeError(w, http.StatusForbidden, protocol.CodeForbidden, "origin not allowed")
}

// preflight answers the browser's OPTIONS before a cross-origin
// POST /v1/sse/ticket.
func (s *Server) preflight() http.Handler {
	return s.cors.Preflight([]string{http.MethodPost}, []string{"Authorization"}, s.refuseOrigin)
}

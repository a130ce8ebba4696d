package api

import (
	"net/http"
	"strconv"

	"github.com/alarmgate/alarmgate/protocol"
)

// Cross-origin calls. The inbox routes serve browsers: a page on another
// origin calls them with fetch and the user's client token in an
// Authorization header (and a JSON body for a change), so the browser
// asks first with a preflight. Which origins may, and the CORS headers,
// are the node's one policy (package cors, Config.AllowedOrigins): the
// node's own host and the allowed patterns, never with credentials. The
// publish and listing routes take API keys only, which never belong in a
// browser: they answer no preflight and send no CORS headers.

// Preflight routes of the inbox routes.
const (
	routeInboxPreflight      = "OPTIONS /v1/inbox"
	routeInboxStatePreflight = "OPTIONS /v1/inbox/state"
)

// inboxHeaders are the request headers a page may send to the inbox
// routes besides the safelisted ones.
var inboxHeaders = []string{"Authorization", "Content-Type"}

// originRefused is the answer to a request from an origin not allowed.
var originRefused = apiError{status: http.StatusForbidden, code: protocol.CodeForbidden, message: "origin not allowed"}

// crossOrigin serves h to requests from allowed origins (or without one),
// with the CORS headers on every answer, errors included; other origins
// get 403 forbidden before anything else is checked.
func (a *API) crossOrigin(pattern string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a.cors.Allow(w, r) {
			h.ServeHTTP(w, r)
			return
		}
		closeUnread(w, r)
		status := a.refuseOrigin(w, r, pattern)
		a.m.HTTPRequests.WithLabelValues(pattern, strconv.Itoa(status)).Inc()
	})
}

// preflight serves the route pattern, the browser's OPTIONS before a
// cross-origin call with method.
func (a *API) preflight(pattern, method string) http.Handler {
	return a.cors.Preflight([]string{method}, inboxHeaders, func(w http.ResponseWriter, r *http.Request) {
		a.refuseOrigin(w, r, pattern)
	})
}

// refuseOrigin logs (at debug) and answers a request from an origin not
// allowed; it returns the status written.
func (a *API) refuseOrigin(w http.ResponseWriter, r *http.Request, pattern string) int {
	a.log.Debug("api: origin refused", "route", pattern, "origin", r.Header.Get("Origin"), "host", r.Host)
	e := originRefused
	return a.writeError(w, r, pattern, &e)
}

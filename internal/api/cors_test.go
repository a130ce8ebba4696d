package api

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// testOrigins are the allowed-origin patterns of the CORS tests.
var testOrigins = []string{"app.example.com", "*.example.org:8443"}

// checkCORS checks the CORS headers of an answer to a request from origin:
// the origin echoed (when allowed and given) with Retry-After exposed,
// Vary: Origin, never credentials.
func checkCORS(t *testing.T, what string, w *httptest.ResponseRecorder, origin string, allowed bool) {
	t.Helper()
	h := w.Header()
	wantACAO, wantExpose := origin, "Retry-After"
	if !allowed || origin == "" {
		wantACAO, wantExpose = "", ""
	}
	if got := h.Get("Access-Control-Allow-Origin"); got != wantACAO {
		t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, got, wantACAO)
	}
	if got := h.Get("Access-Control-Expose-Headers"); got != wantExpose {
		t.Errorf("%s: Access-Control-Expose-Headers %q, want %q", what, got, wantExpose)
	}
	if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
		t.Errorf("%s: Access-Control-Allow-Credentials %q, want none", what, got)
	}
	if got := h.Get("Vary"); got != "Origin" {
		t.Errorf("%s: Vary %q, want Origin", what, got)
	}
}

// TestInboxCrossOrigin: for the node's own host and the allowed patterns
// the inbox routes answer their preflights (204, the route's method,
// Authorization and Content-Type) and every answer, errors included,
// echoes the origin; other origins get 403 forbidden on the preflight and
// the request, which never reaches the store; requests without Origin are
// served as before.
func TestInboxCrossOrigin(t *testing.T) {
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://example.com", true}, // httptest.NewRequest's Host
		{"https://app.example.com", true},
		{"https://eu.example.org:8443", true},
		{"https://evil.example.com", false},
		{"https://eu.example.org", false},
		{"null", false},
	} {
		t.Run("origin "+tc.origin, func(t *testing.T) {
			e, store, tok := newInboxEnv(t, limit.UserConfig{}, "cody", testOrigins...)
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			status := func(okStatus int) int {
				if tc.ok {
					return okStatus
				}
				return http.StatusForbidden
			}
			routes := []struct{ method, path, body string }{
				{http.MethodGet, "/v1/inbox", ""},
				{http.MethodPost, "/v1/inbox/state", `{"op":"read","ids":["1-0"]}`},
			}
			for _, rt := range routes {
				if tc.origin != "" {
					pre := e.do(t, req{method: http.MethodOptions, path: rt.path, auth: "-", contentType: "-",
						headers: map[string]string{"Origin": tc.origin, "Access-Control-Request-Method": rt.method,
							"Access-Control-Request-Headers": "authorization,content-type"}})
					what := "preflight " + rt.path
					if pre.Code != status(http.StatusNoContent) {
						t.Errorf("%s: status %d, want %d", what, pre.Code, status(http.StatusNoContent))
					}
					checkCORS(t, what, pre, tc.origin, tc.ok)
					if tc.ok && (pre.Header().Get("Access-Control-Allow-Methods") != rt.method ||
						pre.Header().Get("Access-Control-Allow-Headers") != "Authorization, Content-Type" ||
						pre.Header().Get("Access-Control-Max-Age") != "600") {
						t.Errorf("%s: headers %v", what, pre.Header())
					}
					if !tc.ok && errorCode(t, pre) != protocol.CodeForbidden {
						t.Errorf("%s: code %q, want forbidden", what, errorCode(t, pre))
					}
				}
				what := rt.method + " " + rt.path
				w := e.do(t, req{method: rt.method, path: rt.path, body: rt.body, auth: "Bearer " + tok, headers: hdr})
				if w.Code != status(http.StatusOK) {
					t.Errorf("%s: status %d, want %d: %s", what, w.Code, status(http.StatusOK), w.Body)
				}
				checkCORS(t, what, w, tc.origin, tc.ok)
				if !tc.ok && errorCode(t, w) != protocol.CodeForbidden {
					t.Errorf("%s: code %q, want forbidden", what, errorCode(t, w))
				}
				// A refused token still carries the headers, so the page can read the 401.
				w = e.do(t, req{method: rt.method, path: rt.path, body: rt.body, auth: "Bearer nope", headers: hdr})
				if w.Code != status(http.StatusUnauthorized) {
					t.Errorf("%s with a bad token: status %d, want %d", what, w.Code, status(http.StatusUnauthorized))
				}
				checkCORS(t, what+" with a bad token", w, tc.origin, tc.ok)
			}
			store.mu.Lock()
			defer store.mu.Unlock()
			wantCalls := 0
			if tc.ok {
				wantCalls = 1
			}
			if store.reads["user:cody"] != wantCalls || store.changes["user:cody"] != wantCalls {
				t.Errorf("the store saw %d reads and %d changes, want %d each", store.reads["user:cody"], store.changes["user:cody"], wantCalls)
			}
			if !tc.ok {
				if got := testutil.CounterValue(t, e.m.HTTPRequests.WithLabelValues(RouteInbox, "403")); got != 2 {
					t.Errorf("http_requests{%s,403} = %v, want 2", RouteInbox, got)
				}
			}
		})
	}
}

// TestInboxCrossOriginRateLimited: a 429 to an allowed page carries the
// origin and exposes Retry-After, so the page can wait as asked.
func TestInboxCrossOriginRateLimited(t *testing.T) {
	e, _, tok := newInboxEnv(t, limit.UserConfig{InboxReadRate: 0.25, InboxReadBurst: 1}, "dee", testOrigins...)
	hdr := map[string]string{"Origin": "https://app.example.com"}
	if w := e.do(t, req{method: http.MethodGet, path: "/v1/inbox", auth: "Bearer " + tok, headers: hdr}); w.Code != http.StatusOK {
		t.Fatalf("first read: status %d", w.Code)
	}
	w := e.do(t, req{method: http.MethodGet, path: "/v1/inbox", auth: "Bearer " + tok, headers: hdr})
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != protocol.CodeRateLimited {
		t.Fatalf("second read: status %d: %s, want 429 rate_limited", w.Code, w.Body)
	}
	checkCORS(t, "429", w, "https://app.example.com", true)
	if got := w.Header().Get("Retry-After"); got != "4" {
		t.Errorf("Retry-After %q, want 4", got)
	}
	if got := testutil.CounterValue(t, e.m.Limited.WithLabelValues(metrics.LimitInboxReadRate)); got != 1 {
		t.Errorf("limited{inbox_read_rate} = %v, want 1", got)
	}
}

// TestKeyRoutesNoCORS: the routes of API keys answer no preflight and send
// no CORS headers, even to an allowed origin: API keys never belong in a
// browser.
func TestKeyRoutesNoCORS(t *testing.T) {
	e, _, _ := newInboxEnv(t, limit.UserConfig{}, "cody", testOrigins...)
	origin := map[string]string{"Origin": "https://app.example.com"}
	for _, rq := range []req{
		{method: http.MethodPost, path: "/v1/alarms", body: alarmBody("orders", "created", ""), headers: origin},
		{method: http.MethodPost, path: "/v1/alarms/batch", body: `{"alarms":[` + alarmBody("orders", "created", "") + `]}`, headers: origin},
		{method: http.MethodGet, path: "/v1/alarms?channel=orders", headers: origin},
		{method: http.MethodOptions, path: "/v1/alarms", auth: "-", contentType: "-", headers: map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}},
		{method: http.MethodOptions, path: "/v1/alarms/batch", auth: "-", contentType: "-", headers: map[string]string{
			"Origin": "https://app.example.com", "Access-Control-Request-Method": "POST"}},
	} {
		w := e.do(t, rq)
		what := rq.method + " " + rq.path
		if rq.method == http.MethodOptions && w.Code != http.StatusMethodNotAllowed {
			t.Errorf("%s: status %d, want 405", what, w.Code)
		}
		if rq.method != http.MethodOptions && (w.Code < 200 || w.Code > 299) {
			t.Errorf("%s: status %d: %s", what, w.Code, w.Body)
		}
		for k := range w.Header() {
			if strings.HasPrefix(k, "Access-Control-") {
				t.Errorf("%s: %s %q, want no CORS header", what, k, w.Header().Get(k))
			}
		}
	}
}

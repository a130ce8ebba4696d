package cors

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// request is a GET to host with origin ("" for none).
func request(host, origin string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://"+host+"/v1/inbox", nil)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	return r
}

func mustNew(t *testing.T, patterns ...string) *Policy {
	t.Helper()
	p, err := New(patterns)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// allowedCases are the origins of TestAllowed and
// TestAllowedAsWebSocket. stricter marks the one case the policy refuses
// and coder/websocket accepts: an Origin without a host ("null") that a
// "*" pattern matches.
var allowedCases = []struct {
	name     string
	patterns []string
	host     string
	origin   string
	want     bool
	stricter bool
}{
	{"no origin", nil, "push.example.com", "", true, false},
	{"own host", nil, "push.example.com", "https://push.example.com", true, false},
	{"own host, other case", nil, "push.example.com", "https://PUSH.example.com", true, false},
	{"own host with port", nil, "127.0.0.1:8080", "http://127.0.0.1:8080", true, false},
	{"own host, other port", nil, "127.0.0.1:8080", "http://127.0.0.1:8081", false, false},
	{"other host, no patterns", nil, "push.example.com", "https://app.example.com", false, false},
	{"exact pattern", []string{"app.example.com"}, "push.example.com", "https://app.example.com", true, false},
	{"exact pattern, any scheme", []string{"app.example.com"}, "push.example.com", "http://app.example.com", true, false},
	{"pattern is case-insensitive", []string{"App.Example.COM"}, "push.example.com", "https://app.EXAMPLE.com", true, false},
	{"exact pattern, other port", []string{"app.example.com"}, "push.example.com", "https://app.example.com:8443", false, false},
	{"wildcard subdomain", []string{"*.example.org"}, "push.example.com", "https://eu.example.org", true, false},
	{"wildcard spans labels (path.Match)", []string{"*.example.org"}, "push.example.com", "https://a.b.example.org", true, false},
	{"wildcard not the apex", []string{"*.example.org"}, "push.example.com", "https://example.org", false, false},
	{"pattern with port", []string{"*.example.org:8443"}, "push.example.com", "https://eu.example.org:8443", true, false},
	{"pattern with port, none given", []string{"*.example.org:8443"}, "push.example.com", "https://eu.example.org", false, false},
	{"any port", []string{"127.0.0.1:*"}, "127.0.0.1:8080", "http://127.0.0.1:5173", true, false},
	{"scheme pattern", []string{"https://app.example.com"}, "push.example.com", "https://app.example.com", true, false},
	{"scheme pattern, other scheme", []string{"https://app.example.com"}, "push.example.com", "http://app.example.com", false, false},
	{"second pattern", []string{"a.example.com", "localhost:3000"}, "push.example.com", "http://localhost:3000", true, false},
	{"suffix is not a match", []string{"example.com"}, "push.example.com", "https://evil-example.com", false, false},
	{"null origin", nil, "push.example.com", "null", false, false},
	{"null origin, star pattern", []string{"*"}, "push.example.com", "null", false, true},
	{"not a URL", []string{"*"}, "push.example.com", "http://%zz", false, false},
	{"star allows any host", []string{"*"}, "push.example.com", "https://anything.test", true, false},
}

// TestAllowed: the request's own host, no Origin, and the patterns as
// coder/websocket matches them (host[:port], or scheme://host with "://",
// case-insensitive); nothing else.
func TestAllowed(t *testing.T) {
	for _, tt := range allowedCases {
		t.Run(tt.name, func(t *testing.T) {
			p := mustNew(t, tt.patterns...)
			if got := p.Allowed(request(tt.host, tt.origin)); got != tt.want {
				t.Errorf("Allowed(host %s, Origin %q) with %q = %v, want %v", tt.host, tt.origin, tt.patterns, got, tt.want)
			}
		})
	}
}

// TestAllowedAsWebSocket: the policy agrees with coder/websocket's
// OriginPatterns on every case (but the stricter one), so one list means
// the same for the WebSocket upgrade and the HTTP routes.
func TestAllowedAsWebSocket(t *testing.T) {
	for _, tt := range allowedCases {
		t.Run(tt.name, func(t *testing.T) {
			r := request(tt.host, tt.origin)
			for k, v := range map[string]string{"Connection": "Upgrade", "Upgrade": "websocket",
				"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ=="} {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder() // not a Hijacker: an accepted origin gets 501
			_, _ = websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: tt.patterns})
			wsAllowed := w.Code != http.StatusForbidden
			if want := tt.want != tt.stricter; wsAllowed != want {
				t.Errorf("coder/websocket allowed=%v (status %d), want %v", wsAllowed, w.Code, want)
			}
		})
	}
}

// TestNewRefusesBadPatterns: a pattern path.Match cannot parse, or an
// empty one, is refused and named as AllowedOrigins.
func TestNewRefusesBadPatterns(t *testing.T) {
	for _, patterns := range [][]string{{"a\\"}, {"ok.example.com", ""}, {"[x"}} {
		_, err := New(patterns)
		if got := defaults.Fields(err); len(got) == 0 || got[0] != "AllowedOrigins" {
			t.Errorf("New(%q): %v, want an AllowedOrigins error", patterns, err)
		}
	}
	if _, err := New(nil); err != nil {
		t.Errorf("New(nil): %v", err)
	}
}

// TestAllow: an allowed Origin is echoed with Retry-After exposed, never
// with credentials; a refused one or none gets no CORS header; Vary:
// Origin always.
func TestAllow(t *testing.T) {
	p := mustNew(t, "app.example.com")
	tests := []struct {
		origin   string
		want     bool
		wantACAO string
	}{
		{"https://app.example.com", true, "https://app.example.com"},
		{"", true, ""},
		{"https://evil.example.com", false, ""},
	}
	for _, tt := range tests {
		w := httptest.NewRecorder()
		if got := p.Allow(w, request("push.example.com", tt.origin)); got != tt.want {
			t.Errorf("Origin %q: Allow = %v, want %v", tt.origin, got, tt.want)
		}
		h := w.Header()
		if got := h.Get("Access-Control-Allow-Origin"); got != tt.wantACAO {
			t.Errorf("Origin %q: Access-Control-Allow-Origin %q, want %q", tt.origin, got, tt.wantACAO)
		}
		wantExpose := ""
		if tt.wantACAO != "" {
			wantExpose = "Retry-After"
		}
		if got := h.Get("Access-Control-Expose-Headers"); got != wantExpose {
			t.Errorf("Origin %q: Access-Control-Expose-Headers %q, want %q", tt.origin, got, wantExpose)
		}
		if got := h.Values("Vary"); len(got) != 1 || got[0] != "Origin" {
			t.Errorf("Origin %q: Vary %q, want [Origin]", tt.origin, got)
		}
		if got := h.Get("Access-Control-Allow-Credentials"); got != "" {
			t.Errorf("Origin %q: Access-Control-Allow-Credentials %q, want none", tt.origin, got)
		}
	}
}

// TestPreflight: an allowed origin gets 204 with the route's methods and
// headers and the max age; a refused one goes to refuse, without CORS
// headers.
func TestPreflight(t *testing.T) {
	p := mustNew(t, "app.example.com")
	refused := 0
	h := p.Preflight([]string{http.MethodGet, http.MethodPost}, []string{"Authorization", "Content-Type"},
		func(w http.ResponseWriter, _ *http.Request) { refused++; w.WriteHeader(http.StatusForbidden) })
	tests := []struct {
		origin      string
		wantStatus  int
		wantRefused int
	}{
		{"https://app.example.com", http.StatusNoContent, 0},
		{"https://evil.example.com", http.StatusForbidden, 1},
	}
	for _, tt := range tests {
		r := request("push.example.com", tt.origin)
		r.Method = http.MethodOptions
		r.Header.Set("Access-Control-Request-Method", http.MethodPost)
		r.Header.Set("Access-Control-Request-Headers", "authorization,content-type")
		w := httptest.NewRecorder()
		refused = 0
		h.ServeHTTP(w, r)
		if w.Code != tt.wantStatus || refused != tt.wantRefused {
			t.Fatalf("Origin %q: status %d, refuse called %d times; want %d and %d", tt.origin, w.Code, refused, tt.wantStatus, tt.wantRefused)
		}
		want := map[string]string{
			"Access-Control-Allow-Origin":  tt.origin,
			"Access-Control-Allow-Methods": "GET, POST",
			"Access-Control-Allow-Headers": "Authorization, Content-Type",
			"Access-Control-Max-Age":       "600",
		}
		if tt.wantStatus != http.StatusNoContent {
			want = map[string]string{"Access-Control-Allow-Origin": "", "Access-Control-Allow-Methods": "",
				"Access-Control-Allow-Headers": "", "Access-Control-Max-Age": ""}
		}
		for k, v := range want {
			if got := w.Header().Get(k); got != v {
				t.Errorf("Origin %q: %s %q, want %q", tt.origin, k, got, v)
			}
		}
		if got := w.Header().Get("Vary"); got != "Origin" {
			t.Errorf("Origin %q: Vary %q, want Origin", tt.origin, got)
		}
	}
}

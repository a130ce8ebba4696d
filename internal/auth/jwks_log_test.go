package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for the logger's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer // guarded by mu
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestJWKSLogsNoPassword: a key set URL with credentials is logged (on a
// refresh and on a failed one) and quoted in errors with its password
// redacted.
func TestJWKSLogsNoPassword(t *testing.T) {
	const password = "s3cret-pw"
	var fail atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != password {
			t.Errorf("basic auth = %q %q %v", u, p, ok)
		}
		if fail.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(`{"keys":[]}`))
	}))
	t.Cleanup(srv.Close)
	raw := strings.Replace(srv.URL, "http://", "http://user:"+password+"@", 1)

	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
	j, err := NewJWKS(JWKSConfig{URL: raw}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	if err := j.Refresh(context.Background()); err == nil {
		t.Fatal("refresh from a failing server succeeded")
	} else if strings.Contains(err.Error(), password) {
		t.Errorf("refresh error shows the password: %v", err)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	down, err := NewJWKS(JWKSConfig{URL: strings.Replace(closed.URL, "http://", "http://user:"+password+"@", 1)}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := down.Refresh(context.Background()); err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("refresh from a closed port: %v", err)
	}
	logs := out.String()
	if strings.Contains(logs, password) {
		t.Errorf("log shows the password:\n%s", logs)
	}
	if !strings.Contains(logs, "JWKS refreshed") || !strings.Contains(logs, "refresh failed") || !strings.Contains(logs, "user:xxxxx@") {
		t.Errorf("log lacks the refreshes or the redacted URL:\n%s", logs)
	}

	for _, bad := range []string{
		"http://user:" + password + "@example.com/jwks", // plain http off loopback
		"ftp://user:" + password + "@example.com/jwks",
		"//user:" + password + "@example.com/jwks",
		"http://user:" + password + "@exa mple.com/%zz", // does not parse
	} {
		if _, err := NewJWKS(JWKSConfig{URL: bad}, nil); err == nil {
			t.Errorf("NewJWKS(%q) accepted it", bad)
		} else if strings.Contains(err.Error(), password) {
			t.Errorf("NewJWKS error shows the password: %v", err)
		}
	}
}

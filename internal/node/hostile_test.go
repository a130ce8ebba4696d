package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

// slowBody opens a raw connection to n and sends a POST whose chunked body
// never ends, with the given Authorization header ("" for none).
func slowBody(t *testing.T, n *testNode, authz string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	req := "POST /v1/alarms HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
	if authz != "" {
		req += "Authorization: " + authz + "\r\n"
	}
	req += "\r\n5\r\n{\"cha\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	return c
}

// answerThenEOF reads what the server sends on c until it closes, within
// limit, and returns the status line ("" when it closed without answer).
func answerThenEOF(c net.Conn, limit time.Duration) (string, error) {
	_ = c.SetReadDeadline(time.Now().Add(limit))
	br := bufio.NewReader(c)
	status, err := br.ReadString('\n')
	if err == io.EOF && status == "" {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("no answer: %w", err)
	}
	if _, err := io.Copy(io.Discard, br); err != nil {
		return status, fmt.Errorf("answered %q but kept the socket open: %w", strings.TrimSpace(status), err)
	}
	return strings.TrimSpace(status), nil
}

// TestUnfinishedBodiesDoNotHoldSockets: 50 unauthenticated requests whose
// bodies never end each get their 401 and a closed socket at once; an
// authenticated one is cut at the read timeout; the goroutines go away.
func TestUnfinishedBodiesDoNotHoldSockets(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.ReadTimeout = 500 * time.Millisecond })
	before := runtime.NumGoroutine()
	const sockets = 50
	var wg sync.WaitGroup
	errs := make(chan error, sockets)
	for range sockets {
		c := slowBody(t, n, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			status, err := answerThenEOF(c, 300*time.Millisecond) // below the read timeout
			if err == nil && !strings.HasPrefix(status, "HTTP/1.1 401") {
				err = fmt.Errorf("status %q, want 401", status)
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	authed := slowBody(t, n, "Bearer "+testKey)
	if _, err := answerThenEOF(authed, 3*time.Second); err != nil {
		t.Fatalf("authenticated unfinished body: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before+5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before the slow bodies", runtime.NumGoroutine(), before)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWebSocketOutlivesReadTimeout: the read timeout bounds HTTP requests,
// not the WebSockets they upgrade to.
func TestWebSocketOutlivesReadTimeout(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.ReadTimeout = 200 * time.Millisecond })
	c := rawHello(t, n, map[string]any{"type": "hello", "token": token(t, "alice", nil, time.Hour)})
	if _, err := readMessages(t, c); err != nil { // welcome
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := c.Write(ctx, websocket.MessageText, []byte(`{"type":"noop"}`)); err != nil {
		t.Fatal(err)
	}
	publish(t, n, "user:alice", 1)
	msgs, err := readMessages(t, c)
	if err != nil || len(msgs) != 1 || msgs[0]["type"] != "alarm" {
		t.Fatalf("after the read timeout: %v %v", msgs, err)
	}
}

// TestDemoConfigOnlyForLoopbackHosts: /demo/config hands out a key, so a
// rebound DNS name (any Host that is not loopback) gets 404 (issue 11,
// hole 4).
func TestDemoConfigOnlyForLoopbackHosts(t *testing.T) {
	n, err := New(Config{NodeID: "a", JWTSecret: []byte(testSecret), APIKeys: []string{testKey},
		Demo: true, DemoConfig: map[string]string{"api_key": "secret"}}, realRedis(t, "demo-host"), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := n.Handler()
	tests := []struct {
		host string
		want int
	}{
		{"localhost:8080", http.StatusOK},
		{"LOCALHOST", http.StatusOK},
		{"127.0.0.1:8080", http.StatusOK},
		{"127.1.2.3", http.StatusOK},
		{"[::1]:8080", http.StatusOK},
		{"attacker.example:8080", http.StatusNotFound},
		{"localhost.attacker.example", http.StatusNotFound},
		{"10.0.0.5:8080", http.StatusNotFound},
		{"", http.StatusNotFound},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(http.MethodGet, "/demo/config", nil)
		r.Host = tt.host
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != tt.want {
			t.Errorf("Host %q: status %d, want %d", tt.host, w.Code, tt.want)
		}
	}
}

// dialStatus dials n's WebSocket endpoint and returns the HTTP status of a
// refused upgrade (0 when the upgrade succeeded; the socket is then
// closed at cleanup).
func dialStatus(t *testing.T, n *testNode) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, n.wsURL, nil)
	if err == nil {
		t.Cleanup(func() { _ = c.CloseNow() })
		return 0, ""
	}
	if resp == nil {
		t.Fatalf("dial: %v", err)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After")
}

// limitedCount reads alarmgate_limited_total{limit=...} from n's registry.
func limitedCount(t *testing.T, n *testNode, which string) float64 {
	t.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "alarmgate_limited_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "limit" && l.GetValue() == which {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestMaxConnections: beyond the cap an upgrade gets 503 before it
// happens; connected clients keep receiving; a freed slot is reusable.
func TestMaxConnections(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.Conns.MaxConnections = 2 })
	tok := token(t, "alice", nil, time.Hour)
	first := rawHello(t, n, map[string]any{"type": "hello", "token": tok})
	if _, err := readMessages(t, first); err != nil {
		t.Fatal(err)
	}
	second := rawHello(t, n, map[string]any{"type": "hello", "token": tok})
	if _, err := readMessages(t, second); err != nil {
		t.Fatal(err)
	}
	if status, retry := dialStatus(t, n); status != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("third upgrade: status %d Retry-After %q, want 503 with Retry-After", status, retry)
	}
	if got := limitedCount(t, n, "connections"); got != 1 {
		t.Errorf("limited{connections} = %v, want 1", got)
	}
	publish(t, n, "user:alice", 1)
	if msgs, err := readMessages(t, first); err != nil || msgs[0]["type"] != "alarm" {
		t.Fatalf("a connected client was harmed: %v %v", msgs, err)
	}
	_ = second.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(5 * time.Second)
	for {
		status, _ := dialStatus(t, n)
		if status == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the freed slot was not reused: status %d", status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConnectRatePerAddress: a source over its attempt rate gets 429 with
// Retry-After before the upgrade; its open connections are unharmed.
func TestConnectRatePerAddress(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.Conns.ConnectRate, c.Conns.ConnectBurst = 0.1, 2 })
	tok := token(t, "alice", nil, time.Hour)
	open := rawHello(t, n, map[string]any{"type": "hello", "token": tok})
	if _, err := readMessages(t, open); err != nil {
		t.Fatal(err)
	}
	if status, _ := dialStatus(t, n); status != 0 {
		t.Fatalf("second attempt within the burst: %d", status)
	}
	status, retry := dialStatus(t, n)
	if status != http.StatusTooManyRequests || retry != "10" {
		t.Fatalf("third attempt: status %d Retry-After %q, want 429 with 10", status, retry)
	}
	if got := limitedCount(t, n, "connect_rate"); got != 1 {
		t.Errorf("limited{connect_rate} = %v, want 1", got)
	}
	publish(t, n, "user:alice", 1)
	if msgs, err := readMessages(t, open); err != nil || msgs[0]["type"] != "alarm" {
		t.Fatalf("an open connection was harmed: %v %v", msgs, err)
	}
}

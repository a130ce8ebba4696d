package sse

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/internal/transport"
	"github.com/alarmgate/alarmgate/protocol"
)

const testSecret = "sse-unit-test-secret-0123456789"

// testServer serves a Server using conns on httptest and returns its URL
// and a valid ticket.
func testServer(t *testing.T, conns *limit.Conns, m *metrics.Metrics) (base, ticket string) {
	t.Helper()
	h, err := hub.New(hub.Config{NodeID: "t", Window: 10}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset("e", nil, protocol.Zero)
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	tickets, err := auth.NewTickets(auth.TicketConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{}, []transport.Partition{{Hub: h, Feed: testutil.ReadyFeed{}}}, v, tickets, conns, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx, time.Millisecond)
		srv.Close()
	})
	tk, _, err := tickets.Issue(auth.Claims{Subject: "cy", Expires: time.Now().Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	return srv.URL, tk
}

// open starts GET /v1/sse with ticket; the stream, when admitted, stays
// open until cleanup or close.
func open(t *testing.T, base, ticket string) (status int, retry, code string, closeIt func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/sse?ticket="+url.QueryEscape(ticket), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	closeIt = func() { cancel(); _ = resp.Body.Close() }
	t.Cleanup(closeIt)
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error struct{ Code string } `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		code = e.Error.Code
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), code, closeIt
}

// waitOpen waits until conns holds n slots.
func waitOpen(t *testing.T, conns *limit.Conns, n int64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for conns.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("%d slots held, want %d", conns.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestStreamsShareTheConnectionCap: streams take slots of the budget the
// server was given; beyond the cap a stream is refused 503 unavailable
// with Retry-After, before its ticket is looked at, and counted for sse;
// a stream gives its slot back when it ends, and so does a refused ticket.
func TestStreamsShareTheConnectionCap(t *testing.T) {
	m := metrics.New(nil)
	conns, err := limit.NewConns(limit.ConnConfig{MaxConnections: 2, ConnectRate: -1}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conns.Admit("10.0.0.1:1", "ws"); !ok { // a WebSocket holds one slot
		t.Fatal("admit")
	}
	base, tk := testServer(t, conns, m)
	status, _, _, closeFirst := open(t, base, tk)
	if status != http.StatusOK {
		t.Fatalf("first stream: %d", status)
	}
	for _, ticket := range []string{tk, "not-a-ticket"} {
		if status, retry, code, _ := open(t, base, ticket); status != http.StatusServiceUnavailable || retry != "1" || code != "unavailable" {
			t.Fatalf("beyond the cap: %d Retry-After %q code %q, want 503, 1, unavailable", status, retry, code)
		}
	}
	if got := promtest.ToFloat64(m.ConnsRefused.WithLabelValues(metrics.LimitConnections, "sse")); got != 2 {
		t.Errorf("refused{connections,sse} = %v, want 2", got)
	}
	if got := promtest.ToFloat64(m.ConnSlots.WithLabelValues("sse")); got != 1 {
		t.Errorf("slots{sse} = %v, want 1", got)
	}
	closeFirst()
	waitOpen(t, conns, 1)
	if status, _, _, _ := open(t, base, "not-a-ticket"); status != http.StatusUnauthorized {
		t.Fatalf("bad ticket: %d", status)
	}
	waitOpen(t, conns, 1)
	if status, _, _, _ := open(t, base, tk); status != http.StatusOK {
		t.Fatalf("stream in the freed slot: %d", status)
	}
}

// TestStreamsShareTheConnectRate: one address's streams draw on the
// connect-rate bucket of the budget; beyond it 429 rate_limited with
// Retry-After.
func TestStreamsShareTheConnectRate(t *testing.T) {
	m := metrics.New(nil)
	conns, err := limit.NewConns(limit.ConnConfig{ConnectRate: 0.1, ConnectBurst: 2}, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conns.Admit("127.0.0.1:1", "ws"); !ok { // a WebSocket attempt from the same address
		t.Fatal("admit")
	}
	base, tk := testServer(t, conns, m)
	if status, _, _, _ := open(t, base, tk); status != http.StatusOK {
		t.Fatalf("within the burst: %d", status)
	}
	if status, retry, code, _ := open(t, base, tk); status != http.StatusTooManyRequests || retry != "10" || code != "rate_limited" {
		t.Fatalf("beyond the burst: %d Retry-After %q code %q, want 429, 10, rate_limited", status, retry, code)
	}
	if got := promtest.ToFloat64(m.ConnsRefused.WithLabelValues(metrics.LimitConnectRate, "sse")); got != 1 {
		t.Errorf("refused{connect_rate,sse} = %v, want 1", got)
	}
}

package node

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// The default per-user rates of a node, as the tests below rely on them.
const (
	testStateRate, testStateBurst = 20.0, 40
	testReadRate, testReadBurst   = 10.0, 20
)

// maxAccepted is the most requests a bucket of rate and burst may accept
// in elapsed, with a small margin for the clock.
func maxAccepted(rate float64, burst int, elapsed time.Duration) int {
	return burst + int(rate*elapsed.Seconds()) + 2
}

// wsStateTally is what came back on a socket: the rate_limited errors
// (with their retry_after_ms), the state events and the rest, and when
// the last message arrived.
type wsStateTally struct {
	limited, states, other int
	retryMS                []float64
	last                   time.Time
}

// toggleOverWS sends n read/unread toggles of id on c, as fast as it can.
func toggleOverWS(t *testing.T, c *websocket.Conn, id string, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := range n {
		op := protocol.OpRead
		if i%2 == 1 {
			op = protocol.OpUnread
		}
		b, _ := json.Marshal(map[string]any{"type": "state", "op": op, "ids": []string{id}})
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Errorf("write #%d: %v", i, err)
			return
		}
	}
}

// frames reads c on a goroutine until it fails, passing each frame with
// the time it arrived. (A read with a deadline would close the socket.)
type frame struct {
	b  []byte
	at time.Time
}

func frames(t *testing.T, c *websocket.Conn) <-chan frame {
	t.Helper()
	ch := make(chan frame, 1024)
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(ch)
		for {
			_, b, err := c.Read(context.Background())
			if err != nil {
				return
			}
			ch <- frame{b, time.Now()}
		}
	}()
	t.Cleanup(func() { _ = c.CloseNow(); <-done })
	return ch
}

// nextMessages returns the messages of the next frame on ch, failing
// after 5 s or when the socket ended.
func nextMessages(t *testing.T, ch <-chan frame) []map[string]any {
	t.Helper()
	select {
	case f, ok := <-ch:
		if !ok {
			t.Fatal("the socket ended")
		}
		var out []map[string]any
		for _, line := range strings.Split(string(f.b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				t.Fatalf("bad message %q", line)
			}
			out = append(out, m)
		}
		return out
	case <-time.After(5 * time.Second):
		t.Fatal("no message in 5s")
	}
	return nil
}

// tallyUntilQuiet tallies the messages on ch until nothing arrives for
// quiet.
func tallyUntilQuiet(t *testing.T, ch <-chan frame, quiet time.Duration, tally *wsStateTally) {
	t.Helper()
	for {
		var f frame
		select {
		case f = <-ch:
		case <-time.After(quiet):
			return
		}
		tally.last = f.at
		for _, line := range strings.Split(string(f.b), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) != nil {
				t.Fatalf("bad message %q", line)
			}
			switch {
			case m["type"] == protocol.TypeError && m["error"] == "rate_limited":
				tally.limited++
				ms, _ := m["retry_after_ms"].(float64)
				tally.retryMS = append(tally.retryMS, ms)
			case m["type"] == protocol.TypeState:
				tally.states++
			default:
				tally.other++
			}
		}
	}
}

// TestUserStateLimitOverWebSocket: a user's state changes over the
// WebSocket share one bucket across the user's sockets; beyond it each is
// answered rate_limited with retry_after_ms and the socket stays open.
func TestUserStateLimitOverWebSocket(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	id := publish(t, n, "user:ra", 0)
	tok := token(t, "ra", nil, time.Hour)
	socks := []*websocket.Conn{
		rawHello(t, n, map[string]any{"type": "hello", "token": tok}),
		rawHello(t, n, map[string]any{"type": "hello", "token": tok}),
	}
	chans := make([]<-chan frame, len(socks))
	for i, c := range socks {
		chans[i] = frames(t, c)
		nextMessages(t, chans[i]) // welcome
	}
	const perSocket = 100
	tallies := make([]wsStateTally, len(socks))
	start := time.Now()
	var wg sync.WaitGroup
	for _, c := range socks {
		wg.Go(func() { toggleOverWS(t, c, id, perSocket) })
	}
	wg.Wait()
	for i := range socks {
		tallyUntilQuiet(t, chans[i], time.Second, &tallies[i])
	}
	elapsed := max(tallies[0].last.Sub(start), tallies[1].last.Sub(start))
	limited := tallies[0].limited + tallies[1].limited
	accepted := 2*perSocket - limited
	t.Logf("sent %d in %v: %d limited, %d accepted; state events %d and %d", 2*perSocket, elapsed, limited, accepted, tallies[0].states, tallies[1].states)
	if limit := maxAccepted(testStateRate, testStateBurst, elapsed); accepted > limit {
		t.Fatalf("%d of %d changes accepted in %v, want at most %d (one bucket for the user's sockets)", accepted, 2*perSocket, elapsed, limit)
	}
	for i, tl := range tallies {
		for _, ms := range tl.retryMS {
			if ms <= 0 || ms > 1000/testStateRate+1 {
				t.Fatalf("socket %d: retry_after_ms %v, want in (0, %v]", i, ms, 1000/testStateRate+1)
			}
		}
	}
	// The sockets stay open and serve changes again once the bucket refills.
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i, c := range socks {
		b, _ := json.Marshal(map[string]any{"type": "state", "op": protocol.OpArchive, "ids": []string{id}})
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatalf("socket %d closed: %v", i, err)
		}
	}
	for i := range socks {
		if msgs := nextMessages(t, chans[i]); msgs[0]["type"] != protocol.TypeState || msgs[0]["op"] != protocol.OpArchive {
			t.Fatalf("socket %d after the limit: %v", i, msgs)
		}
	}
}

// httpCall makes one inbox request and returns its status, Retry-After and
// error code.
func httpCall(t *testing.T, method, u, authz, body string) (status int, retry, code string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+authz)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, resp.Header.Get("Retry-After"), e.Error.Code
}

// callsAgainstLimit makes n calls, call i as req(i) says, one after
// another; each must be answered 200, or 429 rate_limited with
// Retry-After 1. It returns the counts of both and the time taken.
func callsAgainstLimit(t *testing.T, what string, n int, req func(i int) (method, u, authz, body string)) (ok, limited int, elapsed time.Duration) {
	t.Helper()
	start := time.Now()
	for i := range n {
		method, u, authz, body := req(i)
		status, retry, code := httpCall(t, method, u, authz, body)
		switch {
		case status == http.StatusOK:
			ok++
		case status == http.StatusTooManyRequests && code == "rate_limited" && retry == "1":
			limited++
		default:
			t.Fatalf("%s #%d: status %d, Retry-After %q, code %q", what, i, status, retry, code)
		}
	}
	elapsed = time.Since(start)
	t.Logf("%d %ss in %v: %d accepted, %d limited", n, what, elapsed, ok, limited)
	return ok, limited, elapsed
}

// TestUserStateLimitOverHTTP: POST /v1/inbox/state with the user's token
// and with an API key for the user share the user's bucket; beyond it the
// answer is 429 rate_limited with Retry-After; another user is unharmed.
func TestUserStateLimitOverHTTP(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	id := publish(t, n, "user:rb", 0)
	publish(t, n, "user:rc", 0)
	tok := token(t, "rb", nil, time.Hour)
	const each = 60
	ok, limited, elapsed := callsAgainstLimit(t, "change", 2*each, func(i int) (method, u, authz, body string) {
		op := protocol.OpRead
		if i%2 == 1 {
			op = protocol.OpUnread
		}
		u, authz = n.url+"/v1/inbox/state", tok
		if i >= each {
			u, authz = n.url+"/v1/inbox/state?user=rb", testKey
		}
		return http.MethodPost, u, authz, `{"op":"` + op + `","ids":["` + id + `"]}`
	})
	if limit := maxAccepted(testStateRate, testStateBurst, elapsed); ok > limit {
		t.Fatalf("%d changes accepted in %v, want at most %d (%d limited)", ok, elapsed, limit, limited)
	}
	status, _, _ := httpCall(t, http.MethodPost, n.url+"/v1/inbox/state?user=rc", testKey, `{"op":"read","up_to":"`+id+`"}`)
	if status != http.StatusOK {
		t.Fatalf("another user: status %d", status)
	}
}

// TestInboxReadLimit: GET /v1/inbox is limited per user, whichever
// credential reads it.
func TestInboxReadLimit(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	publish(t, n, "user:rd", 0)
	tok := token(t, "rd", nil, time.Hour)
	const each = 30
	ok, limited, elapsed := callsAgainstLimit(t, "read", 2*each, func(i int) (method, u, authz, body string) {
		u, authz = n.url+"/v1/inbox", tok
		if i >= each {
			u, authz = n.url+"/v1/inbox?user="+url.QueryEscape("rd"), testKey
		}
		return http.MethodGet, u, authz, ""
	})
	if limit := maxAccepted(testReadRate, testReadBurst, elapsed); ok > limit {
		t.Fatalf("%d reads accepted in %v, want at most %d (%d limited)", ok, elapsed, limit, limited)
	}
	if status, _, _ := httpCall(t, http.MethodGet, n.url+"/v1/inbox?user=re", testKey, ""); status != http.StatusOK {
		t.Fatalf("another user: status %d", status)
	}
}

// sseStatus opens a stream with tk and returns its status and Retry-After
// (the stream, when admitted, is closed at cleanup).
func sseStatus(t *testing.T, n *testNode, tk string) (int, string) {
	t.Helper()
	s := openSSE(t, n, tk, "")
	return s.status, s.header.Get("Retry-After")
}

// TestSSEConnectionCap: WebSockets and SSE streams share
// GATEWAY_MAX_CONNECTIONS: beyond it either is refused with 503 and
// Retry-After; a freed slot is reusable by either.
func TestSSEConnectionCap(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.Conns.MaxConnections = 2 })
	tok := token(t, "rf", nil, time.Hour)
	ws1 := rawHello(t, n, map[string]any{"type": "hello", "token": tok})
	if _, err := readMessages(t, ws1); err != nil {
		t.Fatal(err)
	}
	tk := ticket(t, n, tok)
	if status, _ := sseStatus(t, n, tk); status != http.StatusOK {
		t.Fatalf("first stream: %d", status)
	}
	for i := range 5 {
		if status, retry := sseStatus(t, n, tk); status != http.StatusServiceUnavailable || retry == "" {
			t.Fatalf("stream #%d beyond the cap: status %d Retry-After %q, want 503 with Retry-After", i, status, retry)
		}
	}
	if status, retry := dialStatus(t, n); status != http.StatusServiceUnavailable || retry == "" {
		t.Fatalf("WebSocket beyond the cap: status %d Retry-After %q", status, retry)
	}
	_ = ws1.Close(websocket.StatusNormalClosure, "")
	waitUntil(t, "a freed slot", func() bool {
		s := openSSE(t, n, tk, "")
		ok := s.status == http.StatusOK
		if !ok {
			s.cancel()
		}
		return ok
	})
}

// TestSSEConnectRate: SSE streams and WebSockets from one address share
// its connect rate: beyond the burst a stream gets 429 with Retry-After.
func TestSSEConnectRate(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.Conns.ConnectRate, c.Conns.ConnectBurst = 0.1, 2 })
	tok := token(t, "rg", nil, time.Hour)
	tk := ticket(t, n, tok)
	if status, _ := dialStatus(t, n); status != 0 {
		t.Fatalf("WebSocket within the burst: %d", status)
	}
	if status, _ := sseStatus(t, n, tk); status != http.StatusOK {
		t.Fatalf("stream within the burst: %d", status)
	}
	if status, retry := sseStatus(t, n, tk); status != http.StatusTooManyRequests || retry != "10" {
		t.Fatalf("stream beyond the burst: status %d Retry-After %q, want 429 with 10", status, retry)
	}
	if status, retry := dialStatus(t, n); status != http.StatusTooManyRequests || retry != "10" {
		t.Fatalf("WebSocket beyond the burst: status %d Retry-After %q, want 429 with 10", status, retry)
	}
}

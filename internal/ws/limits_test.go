package ws

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/internal/transport"
	"github.com/alarmgate/alarmgate/protocol"
)

const testSecret = "ws-unit-test-secret-0123456789"

// countingStates answers every change "changed nothing" and counts calls.
type countingStates struct {
	mu    sync.Mutex // guards calls
	calls int
}

func (s *countingStates) ChangeState(context.Context, string, protocol.StateChange) (stream.StateResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls++
	return stream.StateResult{}, nil
}

func (s *countingStates) ReadInbox(context.Context, string, stream.InboxQuery) (stream.Inbox, error) {
	return stream.Inbox{}, nil
}

func (s *countingStates) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls
}

// testServer serves a Server with states and conns on httptest, and
// returns its ws:// URL and a token for sub.
func testServer(t *testing.T, states States, conns *limit.Conns, sub string) (wsURL, tok string) {
	t.Helper()
	h, err := hub.New(hub.Config{NodeID: "t", Window: 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset("e", nil, protocol.Zero)
	return serveHub(t, h, nil, states, conns, sub)
}

// serveHub serves a Server on h (deep reads from backfill, may be nil) on
// httptest, shut down at cleanup, and returns its ws:// URL and a token
// for sub.
func serveHub(t *testing.T, h *hub.Hub, backfill hub.Backfill, states States, conns *limit.Conns, sub string) (wsURL, tok string) {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Config{}, []transport.Partition{{Hub: h, Feed: testutil.ReadyFeed{}, Backfill: backfill}}, v, states, conns, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx, time.Millisecond)
		srv.Close()
	})
	if tok, err = v.Issue(sub, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	return "ws" + strings.TrimPrefix(srv.URL, "http"), tok
}

// dialHello dials, sends hello and reads the welcome.
func dialHello(t *testing.T, wsURL, tok string) *websocket.Conn {
	t.Helper()
	c := sendHello(t, wsURL, `{"type":"hello","token":"`+tok+`"}`)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), `"welcome"`) {
		t.Fatalf("welcome: %s %v", b, err)
	}
	return c
}

// sendHello dials and sends hello; the socket is closed at cleanup.
func sendHello(t *testing.T, wsURL, hello string) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.CloseNow() })
	if err := c.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestStateChangesLimitedPerUser: with a *limit.Inbox as its States, the
// user's sockets share one bucket; a change beyond it is answered
// rate_limited with retry_after_ms, never reaches the store, and the
// socket stays open.
func TestStateChangesLimitedPerUser(t *testing.T) {
	store := &countingStates{}
	in, err := limit.NewInbox(limit.UserConfig{StateRate: 0.01, StateBurst: 3}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wsURL, tok := testServer(t, in, nil, "ann")
	socks := []*websocket.Conn{dialHello(t, wsURL, tok), dialHello(t, wsURL, tok)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	limited := 0
	for i := range 6 {
		c := socks[i%2]
		msg := `{"type":"state","op":"read","ids":["` + string(rune('1'+i)) + `-0"]}`
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatalf("change %d: the socket closed: %v", i, err)
		}
		if i < 3 { // changed nothing: not answered
			testutil.WaitFor(t, 5*time.Second, "the change to reach the store", func() bool { return store.count() == i+1 })
			continue
		}
		_, b, err := c.Read(ctx)
		var e protocol.Error
		if err != nil || json.Unmarshal(b, &e) != nil {
			t.Fatalf("change %d: %s %v", i, b, err)
		}
		if e.Type != protocol.TypeError || e.Error != "rate_limited" || e.RetryAfterMS < 1 || e.RetryAfterMS > 100_000 {
			t.Fatalf("change %d: answer %s, want rate_limited with retry_after_ms", i, b)
		}
		limited++
	}
	if limited != 3 || store.count() != 3 {
		t.Fatalf("%d limited, %d reached the store; want 3 and 3", limited, store.count())
	}
	// Still open: a bad message is answered.
	if err := socks[0].Write(ctx, websocket.MessageText, []byte(`[1]`)); err != nil {
		t.Fatal(err)
	}
	if _, b, err := socks[0].Read(ctx); err != nil || !strings.Contains(string(b), "bad_request") {
		t.Fatalf("after the limit: %s %v", b, err)
	}
}

// TestUpgradesUseTheSharedBudget: the Server admits within the Conns it
// was given: its slots count against the cap another transport shares,
// and a refusal is 503 or 429 with Retry-After before the upgrade.
func TestUpgradesUseTheSharedBudget(t *testing.T) {
	conns, err := limit.NewConns(limit.ConnConfig{MaxConnections: 2, ConnectRate: -1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := conns.Admit("10.0.0.1:1", "sse"); !ok { // another transport's connection
		t.Fatal("admit")
	}
	wsURL, tok := testServer(t, &countingStates{}, conns, "bo")
	c := dialHello(t, wsURL, tok)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("beyond the shared cap: %v %+v", err, resp)
	}
	_ = c.Close(websocket.StatusNormalClosure, "")
	testutil.WaitFor(t, 5*time.Second, "the closed socket's slot", func() bool { return conns.Open() == 1 })

	rated, err := limit.NewConns(limit.ConnConfig{ConnectRate: 0.1, ConnectBurst: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wsURL, tok = testServer(t, &countingStates{}, rated, "bo")
	dialHello(t, wsURL, tok)
	_, resp, err = websocket.Dial(ctx, wsURL, nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "10" {
		t.Fatalf("beyond the connect rate: %v %+v", err, resp)
	}
}

// TestRefusalPausesReading: after a change over the user's rate the
// socket is not read until the wait is over, so a flood costs the node one
// refusal per wait, not one per message; the socket stays open.
func TestRefusalPausesReading(t *testing.T) {
	store := &countingStates{}
	in, err := limit.NewInbox(limit.UserConfig{StateRate: 0.01, StateBurst: 1}, store, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	wsURL, tok := testServer(t, in, nil, "flo")
	c := dialHello(t, wsURL, tok)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	msg := []byte(`{"type":"state","op":"read","up_to":"99999999999999-0"}`)
	if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the first change to reach the store", func() bool { return store.count() == 1 })
	for range 50 {
		if err := c.Write(ctx, websocket.MessageText, msg); err != nil {
			t.Fatalf("the socket closed: %v", err)
		}
	}
	if _, b, err := c.Read(ctx); err != nil || !strings.Contains(string(b), `"rate_limited"`) {
		t.Fatalf("first answer %s, %v; want rate_limited", b, err)
	}
	// The wait is capped at maxReadPause (1 s): within 300 ms of the first
	// refusal no further message may have been read and refused.
	quick, cancelQuick := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancelQuick()
	if _, b, err := c.Read(quick); err == nil {
		t.Fatalf("a second answer %s within 300 ms: the socket was read during the pause", b)
	}
	if n := store.count(); n != 1 {
		t.Fatalf("%d changes reached the store, want 1", n)
	}
}

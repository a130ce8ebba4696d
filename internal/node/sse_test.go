package node

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/sse"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// sseStream is one open GET /v1/sse, read by a goroutine into events.
type sseStream struct {
	events chan client.SSEEvent // closed when the stream ends
	status int
	header http.Header
	cancel context.CancelFunc
}

// ticket trades tok for a ticket at n.
func ticket(t *testing.T, n *testNode, tok string) string {
	t.Helper()
	tk, err := client.SSETicket(context.Background(), nil, n.url, tok)
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// openSSE opens a stream with tk; lastEventID goes in the Last-Event-ID
// header unless empty.
func openSSE(t *testing.T, n *testNode, tk, lastEventID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/v1/sse?ticket="+url.QueryEscape(tk), nil)
	if lastEventID != "" {
		req.Header.Set("Last-Event-ID", lastEventID)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	s := &sseStream{events: make(chan client.SSEEvent, 1024), status: res.StatusCode, header: res.Header, cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(s.events)
		defer res.Body.Close()
		_ = client.ReadSSE(res.Body, func(e client.SSEEvent) error {
			select {
			case s.events <- e:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	}()
	t.Cleanup(func() { cancel(); <-done })
	return s
}

// next returns the next event other than a bare retry field, failing after
// 5 s; ok is false when the stream ended.
func (s *sseStream) next(t *testing.T) (client.SSEEvent, bool) {
	t.Helper()
	for {
		select {
		case e, ok := <-s.events:
			if ok && e.Event == "" && e.Retry != "" {
				continue
			}
			return e, ok
		case <-time.After(5 * time.Second):
			t.Fatal("no SSE event in 5s")
		}
	}
}

func decodeData(t *testing.T, e client.SSEEvent) protocol.Message {
	t.Helper()
	var m protocol.Message
	if err := json.Unmarshal([]byte(e.Data), &m); err != nil {
		t.Fatalf("event %q data %q: %v", e.Event, e.Data, err)
	}
	return m
}

func TestSSEResumeStatuses(t *testing.T) {
	n, ids, epoch, tok := startResumeNode(t)
	tests := []struct {
		name, lastEventID, status string
		replayed                  int
		position                  string
	}{
		{"new", "", "new", 0, ids[7]},
		{"resumed", epoch + "/" + ids[4], "resumed", 3, ids[4]},
		{"resumed without epoch", ids[6], "resumed", 1, ids[6]},
		{"resumed beyond the window", epoch + "/" + ids[1], "resumed", 6, ids[1]},
		{"expired", epoch + "/" + ids[0], "expired", 0, ids[7]},
		{"epoch changed", "not-" + epoch + "/" + ids[6], "epoch_changed", 0, ids[7]},
		{"invalid", epoch + "/12-x", "invalid", 0, ids[7]},
		{"invalid: empty epoch", "/" + ids[6], "invalid", 0, ids[7]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openSSE(t, n, ticket(t, n, tok), tt.lastEventID)
			if s.status != 200 || s.header.Get("Content-Type") != "text/event-stream" ||
				s.header.Get("X-Accel-Buffering") != "no" || s.header.Get("Cache-Control") != "no-store" {
				t.Fatalf("status %d, header %v", s.status, s.header)
			}
			e, _ := s.next(t)
			w := decodeData(t, e)
			if e.Event != "welcome" || e.ID != epoch+"/"+tt.position || w.Resume.Status != protocol.Status(tt.status) ||
				w.Resume.Replayed != tt.replayed || w.Position != tt.position || w.Epoch != epoch {
				t.Fatalf("welcome event %+v", e)
			}
			for i := range tt.replayed {
				e, _ := s.next(t)
				want := ids[len(ids)-tt.replayed+i]
				if e.Event != "alarm" || e.ID != epoch+"/"+want || decodeData(t, e).ID != want {
					t.Fatalf("replay %d = %+v, want %s", i, e, want)
				}
			}
		})
	}
}

func TestSSEFirstFieldsAreRetryThenWelcome(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.SSE.Retry = time.Second })
	s := openSSE(t, n, ticket(t, n, token(t, "r", nil, time.Hour)), "")
	e := <-s.events
	ms, err := strconv.Atoi(e.Retry)
	if err != nil || ms < 1000 || ms > 2000 {
		t.Fatalf("first event %+v, want retry in [1000, 2000]", e)
	}
}

func TestSSELastEventIDRoundTrip(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	tok := token(t, "rt", nil, time.Hour)
	s := openSSE(t, n, ticket(t, n, tok), "")
	w, _ := s.next(t)
	var want []string
	for i := range 6 {
		want = append(want, publish(t, n, "user:rt", i))
	}
	var got []string
	last := w.ID
	for len(got) < 3 {
		e, _ := s.next(t)
		got = append(got, decodeData(t, e).ID)
		last = e.ID
	}
	s.cancel()
	// The id carries the epoch; a reconnect that sends it back resumes.
	s2 := openSSE(t, n, ticket(t, n, tok), last)
	e, _ := s2.next(t)
	if st := decodeData(t, e).Resume.Status; st != protocol.StatusResumed {
		t.Fatalf("status %s after Last-Event-ID %s", st, last)
	}
	for len(got) < len(want) {
		e, _ := s2.next(t)
		got = append(got, decodeData(t, e).ID)
	}
	equalIDs(t, got, want)
	// The query parameter does the same for clients that reconnect by
	// themselves.
	q, err := http.Get(n.url + "/v1/sse?ticket=" + url.QueryEscape(ticket(t, n, tok)) + "&last_event_id=" + url.QueryEscape(last))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Body.Close()
	br := bufio.NewReader(q.Body)
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(line, "data: ") {
			if !strings.Contains(line, `"status":"resumed","replayed":3`) {
				t.Fatalf("welcome %s", line)
			}
			break
		}
	}
}

func TestSSEAuth(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.SSE.TicketTTL = 2 * time.Second })
	tok := token(t, "au", []string{"team:x"}, time.Hour)
	expired, _, err := mustTickets(t, time.Now().Add(-time.Minute)).Issue(auth.Claims{Subject: "au"})
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := auth.NewTickets(auth.TicketConfig{Secret: []byte("some-other-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	forged, _, _ := otherKey.Issue(auth.Claims{Subject: "au"})
	for name, tk := range map[string]string{"missing": "", "garbage": "x.y.z", "expired": expired,
		"client token as ticket": tok, "other secret": forged} {
		t.Run(name, func(t *testing.T) {
			if s := openSSE(t, n, tk, ""); s.status != http.StatusUnauthorized {
				t.Fatalf("status %d, want 401", s.status)
			}
		})
	}
	t.Run("ticket endpoint needs a valid token", func(t *testing.T) {
		for _, h := range []string{"", "Bearer ", "Bearer nope", "Basic " + tok} {
			req, _ := http.NewRequest(http.MethodPost, n.url+"/v1/sse/ticket", nil)
			if h != "" {
				req.Header.Set("Authorization", h)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != http.StatusUnauthorized {
				t.Fatalf("Authorization %q: %d, want 401", h, res.StatusCode)
			}
		}
	})
	t.Run("grants only the token's channels; replay after expiry refused", func(t *testing.T) {
		tk := ticket(t, n, tok)
		s := openSSE(t, n, tk, "")
		e, _ := s.next(t)
		if ch := decodeData(t, e).Channels; strings.Join(ch, ",") != "user:au,team:x,broadcast" {
			t.Fatalf("channels %v", ch)
		}
		publish(t, n, "team:y", 1)
		publish(t, n, "user:other", 2)
		want := publish(t, n, "team:x", 3)
		if e, _ := s.next(t); decodeData(t, e).ID != want {
			t.Fatalf("got %+v, want only %s", e, want)
		}
		time.Sleep(2200 * time.Millisecond) // exp has second precision
		if s := openSSE(t, n, tk, ""); s.status != http.StatusUnauthorized {
			t.Fatalf("replayed ticket after expiry: %d, want 401", s.status)
		}
	})
}

func mustTickets(t *testing.T, now time.Time) *auth.Tickets {
	t.Helper()
	tk, err := auth.NewTickets(auth.TicketConfig{Secret: []byte(testSecret), Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func TestSSEHeartbeatAndTokenExpiry(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.SSE.Heartbeat = 100 * time.Millisecond })
	s := openSSE(t, n, ticket(t, n, token(t, "hb", nil, 2*time.Second)), "")
	s.next(t) // welcome
	if e, _ := s.next(t); e.Event != "ping" || e.ID != "" {
		t.Fatalf("idle stream got %+v, want a ping without id", e)
	}
	for {
		e, ok := s.next(t)
		if !ok {
			t.Fatal("stream ended without a close event")
		}
		if e.Event == "close" {
			if c := decodeData(t, e); c.Code != protocol.CloseAuth {
				t.Fatalf("close %+v, want 4001 at token expiry", c)
			}
			return
		}
	}
}

func TestSSEDrainEndsStreamsAndCountsThem(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.DrainDelay = 200 * time.Millisecond })
	tok := token(t, "dr", nil, time.Hour)
	var streams []*sseStream
	for range 3 {
		s := openSSE(t, n, ticket(t, n, tok), "")
		s.next(t)
		streams = append(streams, s)
	}
	if g := transportGauge(t, n, "sse"); g != 3 {
		t.Fatalf("sse gauge %v, want 3", g)
	}
	go func() { _ = n.Shutdown(context.Background()) }()
	for _, s := range streams {
		e, _ := s.next(t)
		if c := decodeData(t, e); e.Event != "close" || c.Code != protocol.CloseRestart {
			t.Fatalf("drain: %+v, want close 1012", e)
		}
		if _, ok := s.next(t); ok {
			t.Fatal("stream still open after its close event")
		}
	}
	<-n.stopped
	if g := transportGauge(t, n, "sse"); g != 0 {
		t.Fatalf("sse gauge %v after drain", g)
	}
}

func transportGauge(t *testing.T, n *testNode, transport string) float64 {
	t.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "alarmgate_transport_connections" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == transport {
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func TestSSESlowConsumerClosed4029(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) {
		c.Hub.QueueLen = 8
		c.SSE = sse.Config{WriteTimeout: 30 * time.Second}
	})
	tok := token(t, "slow", nil, time.Hour)
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.Dial("tcp", strings.TrimPrefix(n.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /v1/sse?ticket=%s HTTP/1.1\r\nHost: x\r\n\r\n", url.QueryEscape(ticket(t, n, tok)))
	for n.Hub().Len() == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	big := strings.Repeat("x", 60<<10)
	for i := 0; i < 300 && closedCount(n) == 0; i++ {
		if _, err := n.publisher().Publish(context.Background(), "user:slow", "big", map[string]string{"pad": big}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if closedCount(n) == 0 {
		t.Fatal("stream was never closed for being slow")
	}
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var last client.SSEEvent
	err = client.ReadSSE(res.Body, func(e client.SSEEvent) error { last = e; return nil })
	if err != nil && !errors.Is(err, net.ErrClosed) {
		t.Fatal(err)
	}
	if c := decodeData(t, last); last.Event != "close" || c.Code != protocol.CloseSlowClient {
		t.Fatalf("last event %+v, want close 4029", last)
	}
}

// TestSSECrossOrigin checks CORS on the ticket endpoint and the stream: a
// preflight and the answers for origins in SSE.AllowedOrigins (or the
// node's own host) echo the origin, never with credentials; other origins
// get 403; requests without Origin are served as before.
func TestSSECrossOrigin(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.SSE.AllowedOrigins = []string{"app.example.com", "*.example.org:8443"} })
	tok := token(t, "co", nil, time.Hour)
	host := strings.TrimPrefix(n.url, "http://")
	do := func(t *testing.T, method, path, origin string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, n.url+path, nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}
	for _, tc := range []struct {
		origin string
		ok     bool
	}{
		{"", true},
		{"http://" + host, true},
		{"https://app.example.com", true},
		{"https://eu.example.org:8443", true},
		{"https://evil.example.com", false},
		{"https://eu.example.org", false},
		{"null", false},
	} {
		t.Run("origin "+tc.origin, func(t *testing.T) {
			wantACAO := tc.origin
			if !tc.ok {
				wantACAO = ""
			}
			check := func(what string, res *http.Response, okStatus int) {
				t.Helper()
				want := okStatus
				if !tc.ok {
					want = http.StatusForbidden
				}
				if res.StatusCode != want {
					t.Errorf("%s: status %d, want %d", what, res.StatusCode, want)
				}
				if got := res.Header.Get("Access-Control-Allow-Origin"); got != wantACAO {
					t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", what, got, wantACAO)
				}
				if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "" {
					t.Errorf("%s: Access-Control-Allow-Credentials %q, want none", what, got)
				}
			}
			if tc.origin != "" {
				pre := do(t, http.MethodOptions, "/v1/sse/ticket", tc.origin, map[string]string{
					"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"})
				check("preflight", pre, http.StatusNoContent)
				if tc.ok && (pre.Header.Get("Access-Control-Allow-Headers") != "Authorization" ||
					pre.Header.Get("Access-Control-Allow-Methods") != "POST") {
					t.Errorf("preflight headers %v", pre.Header)
				}
			}
			res := do(t, http.MethodPost, "/v1/sse/ticket", tc.origin, map[string]string{"Authorization": "Bearer " + tok})
			check("ticket", res, http.StatusOK)
			// A refused token still carries the header, so the page can read the 401.
			check("ticket with a bad token", do(t, http.MethodPost, "/v1/sse/ticket", tc.origin,
				map[string]string{"Authorization": "Bearer nope"}), http.StatusUnauthorized)
			tk := ticket(t, n, tok)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/v1/sse?ticket="+url.QueryEscape(tk), nil)
			if tc.origin != "" {
				req.Header.Set("Origin", tc.origin)
			}
			st, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Body.Close()
			check("stream", st, http.StatusOK)
		})
	}
}

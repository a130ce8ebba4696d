package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/protocol"
)

// waitFor is the failsafe for waiting on an event; tests never assert on
// how long anything takes.
const waitFor = 10 * time.Second

// fakeServer speaks the server side of docs/protocol.md's WebSocket part. Each
// connection reads the hello, reports it on hellos and runs script with
// its connection number (0-based, per server).
type fakeServer struct {
	name   string
	url    string
	hellos chan fakeHello
	conns  atomic.Int32
	api    atomic.Pointer[http.Handler] // serves every path but /v1/ws; see handleAPI
}

// handleAPI makes fs serve every path but /v1/ws with h (else 404).
func (fs *fakeServer) handleAPI(h http.Handler) { fs.api.Store(&h) }

// sentHello is a hello as the fake server decodes it: last_id "" when
// absent, so that tests compare hellos with ==.
type sentHello struct {
	Type   string `json:"type"`
	Token  string `json:"token"`
	LastID string `json:"last_id"`
	Epoch  string `json:"epoch"`
}

type fakeHello struct {
	server string
	n      int
	hello  sentHello
}

// fakeConn is one server-side connection handed to a script.
type fakeConn struct {
	t    *testing.T
	ctx  context.Context
	conn *websocket.Conn
}

func newFakeServer(t *testing.T, name string, script func(fc *fakeConn, n int)) *fakeServer {
	t.Helper()
	fs := &fakeServer{name: name, hellos: make(chan fakeHello, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/ws" {
			if h := fs.api.Load(); h != nil {
				(*h).ServeHTTP(w, r)
				return
			}
			http.NotFound(w, r)
			return
		}
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		wg.Add(1)
		defer wg.Done()
		defer conn.CloseNow()
		n := int(fs.conns.Add(1)) - 1
		rctx, rcancel := context.WithTimeout(ctx, waitFor)
		_, b, err := conn.Read(rctx)
		rcancel()
		if err != nil {
			return
		}
		var h sentHello
		if err := json.Unmarshal(b, &h); err != nil || h.Type != "hello" {
			t.Errorf("%s: bad hello %q: %v", name, b, err)
			return
		}
		select {
		case fs.hellos <- fakeHello{server: name, n: n, hello: h}:
		case <-ctx.Done():
			return
		}
		script(&fakeConn{t: t, ctx: ctx, conn: conn}, n)
	}))
	t.Cleanup(func() {
		cancel()
		srv.Close()
		wg.Wait()
	})
	fs.url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"
	return fs
}

// nextHello waits for the next hello on fs.
func (fs *fakeServer) nextHello(t *testing.T) fakeHello {
	t.Helper()
	select {
	case h := <-fs.hellos:
		return h
	case <-time.After(waitFor):
		t.Fatalf("%s: no hello", fs.name)
		return fakeHello{}
	}
}

// send writes one text frame holding lines joined by "\n".
func (fc *fakeConn) send(lines ...string) {
	fc.t.Helper()
	if err := fc.conn.Write(fc.ctx, websocket.MessageText, []byte(strings.Join(lines, "\n"))); err != nil {
		fc.t.Errorf("server write: %v", err)
	}
}

// close closes with code and reason.
func (fc *fakeConn) close(code protocol.CloseCode, reason string) {
	_ = fc.conn.Close(websocket.StatusCode(code), reason)
}

// waitClose reads until the client goes away and returns the close code
// it sent (-1 if none).
func (fc *fakeConn) waitClose() protocol.CloseCode {
	for {
		_, _, err := fc.conn.Read(fc.ctx)
		if err != nil {
			return protocol.CloseCode(websocket.CloseStatus(err))
		}
	}
}

func welcomeMsg(epoch, position string, status protocol.Status, replayed int) string {
	return fmt.Sprintf(`{"type":"welcome","node":"gw-1","epoch":%q,"channels":["user:42","broadcast"],`+
		`"position":%q,"resume":{"status":%q,"replayed":%d}}`, epoch, position, status, replayed)
}

func alarmMsg(id string) string {
	return fmt.Sprintf(`{"type":"alarm","id":%q,"ts":1,"channel":"user:42","event":"e","data":{"id":%q}}`, id, id)
}

// event is one Handler call.
type event struct {
	kind    string // "alarm", "welcome", "disconnect"
	alarm   Alarm
	welcome Welcome
	disc    Disconnect
}

// recorder turns Handler calls into events and records raw lines.
type recorder struct {
	events chan event
	mu     sync.Mutex // guards raw
	raw    []string
}

func newRecorder() *recorder { return &recorder{events: make(chan event, 1000)} }

func (r *recorder) handler() Handler {
	return Handler{
		Alarm:      func(a Alarm) { r.events <- event{kind: "alarm", alarm: a} },
		Welcome:    func(w Welcome) { r.events <- event{kind: "welcome", welcome: w} },
		Disconnect: func(d Disconnect) { r.events <- event{kind: "disconnect", disc: d} },
		Raw: func(b []byte) {
			r.mu.Lock()
			r.raw = append(r.raw, string(b))
			r.mu.Unlock()
		},
	}
}

// next waits for the next event and checks its kind.
func (r *recorder) next(t *testing.T, kind string) event {
	t.Helper()
	select {
	case e := <-r.events:
		if e.kind != kind {
			t.Fatalf("got %s event %+v, want %s", e.kind, e, kind)
		}
		return e
	case <-time.After(waitFor):
		t.Fatalf("no %s event", kind)
		return event{}
	}
}

// until waits for an event that satisfies ok; ok sees every event.
func (r *recorder) until(t *testing.T, ok func(event) bool) event {
	t.Helper()
	for {
		select {
		case e := <-r.events:
			if ok(e) {
				return e
			}
		case <-time.After(waitFor):
			t.Fatal("no matching event")
			return event{}
		}
	}
}

// alarmIDs waits for n alarm events, skipping welcomes and disconnects.
func (r *recorder) alarmIDs(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	for len(ids) < n {
		select {
		case e := <-r.events:
			if e.kind == "alarm" {
				ids = append(ids, e.alarm.ID)
			}
		case <-time.After(waitFor):
			t.Fatalf("got alarms %v, want %d", ids, n)
		}
	}
	return ids
}

// testConfig is a Config for fake servers with zero backoff (Rand 0).
func testConfig(endpoints ...string) Config {
	return Config{
		Endpoints: endpoints,
		Token:     func(context.Context) (string, error) { return "tok", nil },
		Rand:      func() float64 { return 0 },
	}
}

// startRun runs c.Run in a goroutine; stop cancels it and returns Run's
// error. stop is also registered with t.Cleanup.
func startRun(t *testing.T, c *Client, h Handler) (stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.Run(ctx, h) }()
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-errc:
			case <-time.After(waitFor):
				err = fmt.Errorf("Run did not return")
			}
		})
		return err
	}
	t.Cleanup(func() { _ = stop() })
	return stop
}

package node

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/pubsub"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	testSecret = "integration-secret-0123456789"
	testKey    = "integration-key-0123456789"
)

// realRedis connects to the machine's Redis; every test uses its own key
// prefix, so tests never see each other's alarms.
func realRedis(t testing.TB, name string) redis.UniversalClient {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ClientName: name, ContextTimeoutEnabled: true})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("these tests need Redis on %s (%s; .ci/run starts one): %v", testproc.RedisAddr(), testproc.RedisAddrEnv, err)
	}
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

type testNode struct {
	*Node
	url      string // http://host:port
	wsURL    string
	stopped  chan struct{} // closed when Serve has returned
	serveErr error         // Serve's result, set before stopped is closed
	rdb      redis.UniversalClient
	prefix   string
	name     string
}

// testConfig is the config of the tests' nodes: node id under prefix,
// quick to notice changes and to stop.
func testConfig(prefix, id string) Config {
	return Config{
		NodeID: id, JWTSecret: []byte(testSecret), APIKeys: []string{testKey},
		Stream:      stream.Config{Prefix: prefix},
		Hub:         hub.Config{Window: 1000},
		WS:          ws.Config{CatchUpTimeout: 500 * time.Millisecond},
		Feed:        pubsub.Config{TipInterval: 200 * time.Millisecond},
		DrainDelay:  time.Millisecond,
		CloseSpread: time.Millisecond,
	}
}

// newListening returns a node of cfg on rdb and a loopback listener for
// its Serve.
func newListening(t testing.TB, cfg Config, rdb redis.UniversalClient) (*Node, net.Listener) {
	t.Helper()
	n, err := New(cfg, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return n, ln
}

// startNode serves a node on the real Redis under prefix on a loopback
// port, and shuts it down at cleanup. tune may adjust the config before New.
func startNode(t testing.TB, prefix, id string, tune func(*Config)) *testNode {
	t.Helper()
	name := "t-" + prefix + "-" + id
	rdb := realRedis(t, name)
	cfg := testConfig(prefix, id)
	if tune != nil {
		tune(&cfg)
	}
	n, ln := newListening(t, cfg, rdb)
	tn := &testNode{Node: n, url: "http://" + ln.Addr().String(), wsURL: "ws://" + ln.Addr().String() + "/v1/ws",
		stopped: make(chan struct{}), rdb: rdb, prefix: prefix, name: name}
	go func() { defer close(tn.stopped); tn.serveErr = n.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer scancel()
		_ = n.Shutdown(sctx)
		<-tn.stopped
		if tn.serveErr != nil {
			t.Errorf("Serve: %v", tn.serveErr)
		}
	})
	wctx, wcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer wcancel()
	if err := n.WaitReady(wctx); err != nil {
		t.Fatal(err)
	}
	return tn
}

func token(t *testing.T, sub string, channels []string, ttl time.Duration) string {
	t.Helper()
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Issue(sub, channels, ttl)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func (n *testNode) publisher() *client.Publisher {
	return &client.Publisher{BaseURL: n.url, APIKey: testKey}
}

func publish(t *testing.T, n *testNode, channel string, i int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := n.publisher().Publish(ctx, channel, "test", map[string]int{"i": i}, "")
	if err != nil {
		t.Fatalf("publish %s #%d: %v", channel, i, err)
	}
	return res.ID
}

// recorder runs a client and records every alarm line as it arrives.
type recorder struct {
	mu       sync.Mutex
	ids      []string
	channels []string
	welcomes []client.Welcome
	closes   []int
	changed  chan struct{}
	c        *client.Client
	stop     context.CancelFunc
	done     chan struct{}
}

func startRecorder(t *testing.T, tok string, cfg client.Config) *recorder {
	t.Helper()
	cfg.Token = func(context.Context) (string, error) { return tok, nil }
	cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 200*time.Millisecond
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{c: c, stop: cancel, done: make(chan struct{}), changed: make(chan struct{}, 1)}
	go func() {
		defer close(r.done)
		_ = c.Run(ctx, client.Handler{Raw: r.raw, Welcome: r.welcome, Disconnect: r.disconnect})
	}()
	t.Cleanup(r.close)
	return r
}

func (r *recorder) close() { r.stop(); <-r.done }

func (r *recorder) raw(msg []byte) {
	var m struct{ Type, ID, Channel string }
	if json.Unmarshal(msg, &m) != nil || m.Type != "alarm" {
		return
	}
	r.mu.Lock()
	r.ids = append(r.ids, m.ID)
	r.channels = append(r.channels, m.Channel)
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) welcome(w client.Welcome) {
	r.mu.Lock()
	r.welcomes = append(r.welcomes, w)
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) disconnect(d client.Disconnect) {
	r.mu.Lock()
	r.closes = append(r.closes, int(d.Code))
	r.mu.Unlock()
	r.notify()
}

func (r *recorder) notify() {
	select {
	case r.changed <- struct{}{}:
	default:
	}
}

// waitFor polls cond under r's lock until it holds or 15 s pass.
func (r *recorder) waitFor(t *testing.T, what string, cond func(r *recorder) bool) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		r.mu.Lock()
		ok := cond(r)
		r.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			r.mu.Lock()
			defer r.mu.Unlock()
			t.Fatalf("timed out waiting for %s; got %d alarms, welcomes %+v, closes %v", what, len(r.ids), r.welcomes, r.closes)
		}
	}
}

func (r *recorder) snapshot() (ids []string, welcomes []client.Welcome) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.ids...), append([]client.Welcome(nil), r.welcomes...)
}

// equalIDs reports the first divergence between got and want.
func equalIDs(t *testing.T, got, want []string) {
	t.Helper()
	for i := 0; i < len(got) || i < len(want); i++ {
		switch {
		case i >= len(got):
			t.Fatalf("missing %d alarms from index %d (first missing %s)", len(want)-i, i, want[i])
		case i >= len(want):
			t.Fatalf("%d extra alarms from index %d (first %s)", len(got)-i, i, got[i])
		case got[i] != want[i]:
			t.Fatalf("divergence at index %d: got %s, want %s", i, got[i], want[i])
		}
	}
}

// rawHello dials n, sends hello (a JSON object) and returns the socket.
func rawHello(t *testing.T, n *testNode, hello map[string]any) *websocket.Conn {
	t.Helper()
	return rawHelloOpts(t, n, hello, nil)
}

// smallBuffers dials with a tiny receive buffer, so a client that stops
// reading blocks the server's writes quickly.
var smallBuffers = &websocket.DialOptions{HTTPClient: &http.Client{Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(64 << 10)
		}
		return c, err
	},
}}}

func rawHelloOpts(t *testing.T, n *testNode, hello map[string]any, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, n.wsURL, opts)
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadLimit(1 << 24)
	t.Cleanup(func() { _ = c.CloseNow() })
	if hello != nil {
		b, _ := json.Marshal(hello)
		if err := c.Write(ctx, websocket.MessageText, b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// readMessages reads one frame and splits it into messages.
func readMessages(t *testing.T, c *websocket.Conn) ([]map[string]any, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, b, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var out []map[string]any
	for _, line := range strings.Split(string(b), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("bad message %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out, nil
}

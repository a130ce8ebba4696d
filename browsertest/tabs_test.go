package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/web"
)

// tabWait bounds the waits of the client tests: a reconnect after a kill
// takes a few backoff rounds, slower on a loaded machine.
const tabWait = 45 * time.Second

// clientPage is a bare page that runs client.js and records what it
// emits in window.t. It is served by the test on its own origin, so the
// nodes are cross-origin to it (allowed by GATEWAY_ALLOWED_ORIGINS) and
// it survives every node kill. The options come in the URL's fragment.
const clientPage = `<!doctype html>
<meta charset="utf-8"><title>alarmgate client tab</title>
<script type="module">
import { AlarmClient } from './client.js';
const p = new URLSearchParams(location.hash.slice(1));
const t = (window.t = { got: [], replayed: 0, state: 'idle', node: null, role: null, log: [] });
const note = (s) => { t.log.push(new Date().toISOString().slice(11, 23) + ' ' + s); if (t.log.length > 200) t.log.shift(); };
const client = new AlarmClient({
  endpoints: p.get('endpoints').split(','), token: p.get('token'), user: p.get('user'),
  transport: p.get('transport'), shared: p.get('shared') === '1', minBackoff: 50, maxBackoff: 1000,
});
client.addEventListener('alarm', (e) => { t.got.push(e.detail.id); if (e.detail.replayed) t.replayed++; });
client.addEventListener('status', (e) => {
  const s = e.detail;
  t.state = s.state;
  t.node = s.node;
  note(s.state + ' ' + (s.node ?? '') + ' ' + (s.endpoint ?? '') + ' ' + (s.resume ?? '') + ' ' + (s.code ?? ''));
});
client.addEventListener('role', (e) => { t.role = e.detail.role; note('role ' + e.detail.role); });
client.addEventListener('resumed', (e) => note('resumed, replayed ' + e.detail.resume.replayed));
client.addEventListener('stale', (e) => note('STALE ' + e.detail.resume.status));
client.addEventListener('error', (e) => note('error ' + e.detail.phase + ' ' + e.detail.error));
window.client = client;
client.start();
</script>`

// startPageServer serves clientPage at / and client.js on a loopback
// origin of its own.
func startPageServer(t *testing.T) *httptest.Server {
	t.Helper()
	js := web.ClientJS()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(clientPage))
	})
	mux.HandleFunc("GET /client.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(js)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// tabOptions are the AlarmClient options of a client tab.
type tabOptions struct {
	endpoints []string
	token     string
	user      string
	transport string // websocket or sse
	shared    bool
}

func (o tabOptions) url(base string) string {
	q := url.Values{"endpoints": {strings.Join(o.endpoints, ",")}, "token": {o.token},
		"user": {o.user}, "transport": {o.transport}}
	if o.shared {
		q.Set("shared", "1")
	}
	return base + "/#" + q.Encode()
}

// tab is one Chromium tab running clientPage.
type tab struct {
	name    string
	ctx     context.Context // chromedp context of the tab
	console *testproc.LogBuffer
	closed  bool
}

// tabState is window.t.
type tabState struct {
	Got      []string `json:"got"`
	Replayed int      `json:"replayed"`
	State    string   `json:"state"`
	Node     string   `json:"node"`
	Role     string   `json:"role"`
	Log      []string `json:"log"`
}

// openTab opens a new tab in br's browser context (so tabs share
// localStorage, Web Locks and BroadcastChannel) and loads pageURL.
func openTab(t *testing.T, br *browser, name, pageURL string) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(br.ctx)
	tb := &tab{name: name, ctx: ctx, console: &testproc.LogBuffer{}}
	t.Cleanup(func() { tb.close(); cancel() })
	sub := &browser{console: tb.console}
	if err := chromedp.Do(ctx); err != nil { // attaches the new tab
		t.Fatalf("tab %s: %v", name, err)
	}
	if err := chromedp.Listen(ctx, sub.onEvent); err != nil {
		t.Fatalf("tab %s: listen: %v", name, err)
	}
	nctx, ncancel := context.WithTimeout(ctx, tabWait)
	defer ncancel()
	if err := chromedp.Do(nctx, chromedp.Navigate(pageURL)); err != nil {
		t.Fatalf("tab %s: open %s: %v", name, pageURL, err)
	}
	return tb
}

// close closes the tab as a user would (its page unloads, its locks go).
func (tb *tab) close() {
	if tb.closed {
		return
	}
	tb.closed = true
	ctx, cancel := context.WithTimeout(tb.ctx, 10*time.Second)
	defer cancel()
	_ = chromedp.Cancel(ctx)
}

func (tb *tab) read() (tabState, error) {
	ctx, cancel := context.WithTimeout(tb.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[tabState](`window.t || {}`))
}

func (s tabState) String() string {
	return fmt.Sprintf("state=%s node=%s role=%s replayed=%d got(%d)=%v\n    log:\n      %s",
		s.State, s.Node, s.Role, s.Replayed, len(s.Got), s.Got, strings.Join(s.Log, "\n      "))
}

// clients is the fixture of the client tests: nodes, the page's origin,
// one browser and its tabs.
type clients struct {
	t        *testing.T
	bin      string
	redisURL string
	nodes    []*testproc.Gateway
	page     *httptest.Server
	br       *browser
	tabs     []*tab
	hc       *http.Client
	token    string // the demo token: user "demo", channel user:demo
	seq      int
	sent     []string // ids published, in order
}

// nodeEnv makes a SIGTERMed node drain quickly.
var nodeEnv = []string{"GATEWAY_DRAIN_DELAY=200ms", "GATEWAY_CLOSE_SPREAD=100ms"}

func setupClients(t *testing.T) *clients {
	c := &clients{t: t}
	c.bin = buildGateway(t, moduleRoot(t))
	c.redisURL = startRedis(t)
	c.nodes = []*testproc.Gateway{
		startNode(t, c.bin, c.redisURL, "A", "", nodeEnv...),
		startNode(t, c.bin, c.redisURL, "B", "", nodeEnv...),
	}
	tr := &http.Transport{}
	c.hc = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	c.token = c.demoToken()
	c.page = startPageServer(t)
	c.br = startBrowser(t)
	return c
}

// demoToken reads the demo page's token from node A.
func (c *clients) demoToken() string {
	res, err := c.hc.Get(c.nodes[0].URL() + "/demo/config")
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var cfg struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(res.Body).Decode(&cfg); err != nil || cfg.Token == "" {
		c.t.Fatalf("demo config: %v (HTTP %d)", err, res.StatusCode)
	}
	return cfg.Token
}

// open opens a tab with o, endpoints every node in order.
func (c *clients) open(name string, o tabOptions) *tab {
	for _, n := range c.nodes {
		o.endpoints = append(o.endpoints, n.WSURL())
	}
	o.token, o.user = c.token, "demo"
	tb := openTab(c.t, c.br, name, o.url(c.page.URL))
	c.tabs = append(c.tabs, tb)
	return tb
}

// node returns the node named name.
func (c *clients) node(name string) *testproc.Gateway {
	for _, n := range c.nodes {
		if n.Name == name {
			return n
		}
	}
	c.t.Fatalf("no node %q", name)
	return nil
}

// other returns the node that is not n (two nodes).
func (c *clients) other(n *testproc.Gateway) *testproc.Gateway {
	if c.nodes[0] == n {
		return c.nodes[1]
	}
	return c.nodes[0]
}

// restart starts n again on its address and waits until it is ready.
func (c *clients) restart(n *testproc.Gateway) {
	if err := n.Start(); err != nil {
		c.t.Fatal(err)
	}
	if err := n.WaitReady(context.Background(), nil, tabWait); err != nil {
		c.t.Fatal(err)
	}
}

// publish posts k alarms to user:demo through n and records their ids.
func (c *clients) publish(n *testproc.Gateway, k int) {
	for range k {
		c.seq++
		body, _ := json.Marshal(map[string]any{"channel": "user:demo", "event": "test", "data": map[string]any{"n": c.seq}})
		id, _, err := postAlarm(c.hc, n, body)
		if err != nil {
			c.t.Fatalf("publish #%d through node %s: %v\n%s", c.seq, n.Name, err, c.dump())
		}
		c.sent = append(c.sent, id)
	}
}

// waitTab polls tb until ok holds, for at most tabWait.
func (c *clients) waitTab(tb *tab, what string, ok func(tabState) bool) tabState {
	c.t.Helper()
	deadline := time.Now().Add(tabWait)
	for {
		s, err := tb.read()
		if err == nil && ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("tab %s: %s: not within %v (last read error: %v)\n%s", tb.name, what, tabWait, err, c.dump())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitAll waits until every open tab is open on a node and has received
// as many alarms as were sent, then requires exactly the sent ids, in
// order. It returns the tabs' states, in c.tabs order (closed ones zero).
func (c *clients) waitAll(what string) []tabState {
	c.t.Helper()
	out := make([]tabState, len(c.tabs))
	for i, tb := range c.tabs {
		if tb.closed {
			continue
		}
		s := c.waitTab(tb, what, func(s tabState) bool {
			return s.State == "open" && len(s.Got) >= len(c.sent)
		})
		if !slices.Equal(s.Got, c.sent) {
			c.t.Fatalf("tab %s: %s: received %v,\nwant each published id exactly once, in order: %v\n%s",
				tb.name, what, s.Got, c.sent, c.dump())
		}
		out[i] = s
	}
	return out
}

// connections sums a gauge (its lines starting with series) over the
// running nodes' /metrics.
func (c *clients) connections(series string) (int, error) {
	total := 0
	for _, n := range c.nodes {
		if !n.Running() {
			continue
		}
		v, err := c.metric(n, series)
		if err != nil {
			return 0, err
		}
		total += v
	}
	return total, nil
}

func (c *clients) metric(n *testproc.Gateway, series string) (int, error) {
	res, err := c.hc.Get(n.URL() + "/metrics")
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	total := 0
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), series)
		if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		f, err := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
		if err != nil {
			return 0, fmt.Errorf("%s /metrics: %q: %w", n.Name, sc.Text(), err)
		}
		total += int(f)
	}
	return total, sc.Err()
}

// waitConnections polls the nodes' metrics until series sums to want.
func (c *clients) waitConnections(series string, want int) {
	c.t.Helper()
	deadline := time.Now().Add(tabWait)
	for {
		got, err := c.connections(series)
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("%s summed over the running nodes = %d (%v), want %d\n%s", series, got, err, want, c.dump())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// dump describes the tabs and the nodes for a failure message.
func (c *clients) dump() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "--- sent (%d): %v\n", len(c.sent), c.sent)
	for _, tb := range c.tabs {
		if tb.closed {
			fmt.Fprintf(&sb, "--- tab %s: closed\n", tb.name)
			continue
		}
		s, err := tb.read()
		fmt.Fprintf(&sb, "--- tab %s (read error %v): %s\n", tb.name, err, s)
		fmt.Fprintf(&sb, "    console:\n%s\n", tb.console.Tail(10))
	}
	for _, n := range c.nodes {
		fmt.Fprintf(&sb, "--- node %s (%s, running %v) log tail\n%s\n", n.Name, n.Addr, n.Running(), n.LogTail(15))
	}
	return sb.String()
}

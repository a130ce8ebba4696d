package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alarmgate/alarmgate/web"
)

// crossOriginPage runs client.js's inbox model over SSE against a node on
// another origin, with no api option: the model calls GET /v1/inbox and
// POST /v1/inbox/state on the node itself, cross-origin. What it shows is
// in window.t; the options come in the URL's fragment.
const crossOriginPage = `<!doctype html>
<meta charset="utf-8"><title>alarmgate cross-origin inbox</title>
<script type="module">
import { AlarmClient } from './client.js';
const p = new URLSearchParams(location.hash.slice(1));
const t = (window.t = { loaded: false, items: [], counts: null, errors: [], node: p.get('node') });
const client = new AlarmClient({ endpoints: [p.get('endpoint')], token: p.get('token'), user: p.get('user'), transport: 'sse' });
const inbox = client.inbox();
inbox.addEventListener('change', () => {
  t.loaded = inbox.loaded;
  t.items = inbox.items.map((it) => ({ id: it.alarm.id, read: it.read, pending: it.pending }));
  t.counts = inbox.counts;
});
inbox.addEventListener('error', (e) => t.errors.push(e.detail.phase + ': ' + e.detail.error));
window.client = client;
window.inbox = inbox;
client.start();
</script>`

// xoItem is one item of the cross-origin page's inbox.
type xoItem struct {
	ID      string `json:"id"`
	Read    bool   `json:"read"`
	Pending bool   `json:"pending"`
}

// xoPage is window.t of crossOriginPage.
type xoPage struct {
	Loaded bool     `json:"loaded"`
	Items  []xoItem `json:"items"`
	Counts *struct {
		Unread int `json:"unread"`
	} `json:"counts"`
	Errors []string `json:"errors"`
}

// evalAsync evaluates js, which may return a promise, in br's page.
func evalAsync[T any](t *testing.T, br *browser, js string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(br.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("%s: %v\nconsole:\n%s", js, err, br.console.Tail(20))
	}
	return v
}

// waitXO polls the page until ok holds and returns what it showed.
func waitXO(t *testing.T, br *browser, what string, ok func(xoPage) bool) xoPage {
	t.Helper()
	var last xoPage
	for start := time.Now(); time.Since(start) < waitLimit; time.Sleep(50 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(br.ctx, 5*time.Second)
		p, err := chromedp.Run(ctx, chromedp.Evaluate[xoPage](`window.t || {}`))
		cancel()
		if err == nil {
			last = p
			if ok(p) {
				return p
			}
		}
	}
	t.Fatalf("%s: not within %v: %+v\nconsole:\n%s", what, waitLimit, last, br.console.Tail(20))
	return last
}

// TestInboxCrossOrigin: a page served from another origin (another port)
// than the node, allowed by GATEWAY_ALLOWED_ORIGINS, uses the inbox model
// without a proxy: it loads GET /v1/inbox from the node (a preflighted
// fetch with the token), marks an alarm read with POST /v1/inbox/state,
// and can read a 429's Retry-After. The routes of API keys stay closed to
// it: the browser blocks the fetch.
func TestInboxCrossOrigin(t *testing.T) {
	root := moduleRoot(t)
	bin := buildGateway(t, root)
	node := startNode(t, bin, startRedis(t), "A", "", // allows 127.0.0.1:*
		"GATEWAY_USER_INBOX_READ_RATE=0.1", "GATEWAY_USER_INBOX_READ_BURST=3")
	tok := mintToken(t, bin, "xo")
	ids := []string{
		publishTo(t, node, "user:xo", "order.shipped", `{"title":"one"}`),
		publishTo(t, node, "user:xo", "order.paid", `{"title":"two"}`),
		publishTo(t, node, "user:xo", "stock.low", `{"title":"three"}`),
	}

	js := web.ClientJS()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(crossOriginPage))
	})
	mux.HandleFunc("GET /client.js", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		_, _ = w.Write(js)
	})
	app := httptest.NewServer(mux)
	t.Cleanup(app.Close)
	if strings.TrimPrefix(app.URL, "http://") == node.Addr {
		t.Fatalf("the page and the node share the origin %s", app.URL)
	}

	br := startBrowser(t)
	q := url.Values{"endpoint": {node.WSURL()}, "token": {tok}, "user": {"xo"}}
	if err := br.do(chromedp.Navigate(app.URL + "/#" + q.Encode())); err != nil {
		t.Fatalf("open %s: %v", app.URL, err)
	}
	p := waitXO(t, br, "the inbox loaded cross-origin", func(p xoPage) bool { return p.Loaded && len(p.Items) == 3 })
	for i, it := range p.Items { // newest first
		if it.ID != ids[2-i] || it.Read {
			t.Fatalf("items %+v, want %v newest first, unread", p.Items, ids)
		}
	}
	if len(p.Errors) != 0 {
		t.Fatalf("inbox errors: %v", p.Errors)
	}

	// Over SSE a change goes over POST /v1/inbox/state at once.
	if ok := evalAsync[bool](t, br, fmt.Sprintf(`inbox.markRead([%q])`, ids[1])); !ok {
		t.Fatalf("markRead was rolled back: %+v\nconsole:\n%s", waitXO(t, br, "read", func(xoPage) bool { return true }), br.console.Tail(20))
	}
	waitXO(t, br, "the change confirmed", func(p xoPage) bool {
		return len(p.Items) == 3 && p.Items[1].Read && !p.Items[1].Pending && p.Counts != nil && p.Counts.Unread == 2
	})

	// Reads beyond the user's burst: 429, with Retry-After readable.
	const rateLimited = `(async () => {
	  for (let i = 0; i < 6; i++) {
	    try { await client.readInbox(); } catch (e) { return e.status + ' ' + e.code + ' ' + e.retryAfter; }
	  }
	  return 'never limited';
	})()`
	if got := evalAsync[string](t, br, rateLimited); got != "429 rate_limited 10000" {
		t.Fatalf("over the read rate: %q, want \"429 rate_limited 10000\" (Retry-After 10 s, readable)", got)
	}

	// An API-key route answers no preflight: the browser blocks the call.
	keyCall := fmt.Sprintf(`fetch(%q, { headers: { Authorization: 'Bearer %s' } })
	  .then((r) => 'status ' + r.status, (e) => 'blocked: ' + e.name)`, node.URL()+"/v1/alarms?channel=user:xo", testAPIKey)
	if got := evalAsync[string](t, br, keyCall); got != "blocked: TypeError" {
		t.Fatalf("GET /v1/alarms with an API key from the page: %q, want blocked", got)
	}
}

package browsertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// elItem is one row of <alarm-inbox>'s list, as shown.
type elItem struct {
	ID      string `json:"id"`
	Read    bool   `json:"read"`
	Pending bool   `json:"pending"`
	Title   string `json:"title"`
	Text    string `json:"text"`
	Time    string `json:"time"`
}

// elState is what <alarm-inbox> shows, read from its shadow DOM.
type elState struct {
	Present    bool     `json:"present"`
	Open       bool     `json:"open"`
	Expanded   string   `json:"expanded"` // the bell's aria-expanded
	Label      string   `json:"label"`    // the bell's aria-label
	Badge      string   `json:"badge"`    // "" while hidden
	Connection string   `json:"connection"`
	Loaded     bool     `json:"loaded"`
	Loading    bool     `json:"loading"`
	HasMore    bool     `json:"hasMore"`
	Filter     string   `json:"filter"`
	Empty      string   `json:"empty"` // the empty state's text, "" while hidden
	Items      []elItem `json:"items"` // newest first
	Focus      string   `json:"focus"` // bell, item:<id>, archive:<id>, tab:<filter>, host, page:<element>
	XSS        string   `json:"xss"`   // window.__xss
	Imgs       int      `json:"imgs"`  // <img> elements in the page and the element
}

const readElementJS = `(() => {
  const el = document.querySelector('alarm-inbox');
  if (!el || !el.shadowRoot) return { present: false };
  const r = el.shadowRoot;
  const q = (s) => r.querySelector(s);
  const a = r.activeElement;
  let focus;
  if (document.activeElement !== el) focus = 'page:' + (document.activeElement ? document.activeElement.id || document.activeElement.tagName : '');
  else if (!a) focus = 'host';
  else if (a.classList.contains('bell')) focus = 'bell';
  else if (a.closest('.item')) focus = (a.classList.contains('archive') ? 'archive:' : 'item:') + a.closest('.item').dataset.id;
  else if (a.classList.contains('tab')) focus = 'tab:' + a.dataset.filter;
  else focus = 'other:' + a.className;
  const text = (li, s) => (li.querySelector(s) ? li.querySelector(s).textContent : '');
  const m = el.inbox;
  return {
    present: true, open: el.open, expanded: q('.bell').getAttribute('aria-expanded'),
    label: q('.bell').getAttribute('aria-label'), badge: q('.badge').hidden ? '' : q('.badge').textContent,
    connection: el.getAttribute('connection') || '',
    loaded: !!(m && m.loaded), loading: !!(m && m.loading), hasMore: !!(m && m.hasMore), filter: m ? m.filter : '',
    empty: q('.empty').hidden ? '' : q('.empty').textContent,
    items: [...r.querySelectorAll('.item')].map((li) => ({ id: li.dataset.id, read: li.dataset.read === 'true',
      pending: li.dataset.pending === 'true', title: text(li, '.title'), text: text(li, '.text'), time: text(li, '.time') })),
    focus, xss: window.__xss === undefined ? '' : String(window.__xss),
    imgs: document.querySelectorAll('img').length + r.querySelectorAll('img').length,
  };
})()`

func (s elState) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "open=%v aria-expanded=%s label=%q badge=%q connection=%s loaded=%v loading=%v hasMore=%v filter=%s empty=%q focus=%s xss=%q imgs=%d\n",
		s.Open, s.Expanded, s.Label, s.Badge, s.Connection, s.Loaded, s.Loading, s.HasMore, s.Filter, s.Empty, s.Focus, s.XSS, s.Imgs)
	fmt.Fprintf(&sb, "items (%d, newest first):\n", len(s.Items))
	for i, it := range s.Items {
		if i == 8 && len(s.Items) > 10 {
			fmt.Fprintf(&sb, "  … %d more\n", len(s.Items)-9)
			it = s.Items[len(s.Items)-1]
		} else if i > 8 && len(s.Items) > 10 {
			continue
		}
		fmt.Fprintf(&sb, "  %s read=%v pending=%v %q %q %q\n", it.ID, it.Read, it.Pending, it.Title, it.Text, it.Time)
	}
	return sb.String()
}

// readElement reads the page's <alarm-inbox>; it fails while the page loads.
func readElement(b *browser) (elState, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[elState](readElementJS))
}

// waitElement polls b's <alarm-inbox> until ok holds, for at most limit,
// and returns what it showed and how long that took.
func waitElement(t *testing.T, b *browser, what string, limit time.Duration, ok func(elState) bool) (elState, time.Duration) {
	t.Helper()
	start := time.Now()
	var last elState
	var err error
	for time.Since(start) < limit {
		if last, err = readElement(b); err == nil && last.Present && ok(last) {
			return last, time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v (read error %v)\n%s\nconsole:\n%s", what, limit, err, last, b.console.Tail(20))
	return last, 0
}

// run evaluates js in b's page.
func run(t *testing.T, b *browser, js string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[any](js)); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
}

// clickJS clicks, in the element's shadow DOM, the node that selector finds.
func clickJS(selector string) string {
	return fmt.Sprintf(`document.querySelector('alarm-inbox').shadowRoot.querySelector(%q).click()`, selector)
}

// itemSel selects a part of the row of alarm id.
func itemSel(id, part string) string { return fmt.Sprintf(`.item[data-id=%q] %s`, id, part) }

// idsOf returns the ids of items, in order.
func idsOf(items []elItem) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// reversed returns ids newest first.
func reversed(ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[len(ids)-1-i] = id
	}
	return out
}

// feed are the titles and texts of the alarms the element tests publish.
var feed = []struct{ event, title, text string }{
	{"order.shipped", "Order A-1042 shipped", "DHL, arriving Thursday"},
	{"payment.failed", "Payment failed for A-1043", "The card was declined."},
	{"ticket.assigned", "Ticket #311 assigned to you", "Team ops · priority high"},
	{"build.finished", "Build of main passed", "Pipeline 8812 in 4 min 12 s"},
	{"disk.almost_full", "db-2 disk at 91%", "Grow the volume or prune old backups."},
	{"login.new_device", "New sign-in from Firefox on Linux", "Lisbon, Portugal"},
	{"cert.expiring", "api.example.com certificate expires in 9 days", ""},
	{"invoice.paid", "Invoice INV-2231 paid", "129.00 EUR"},
}

// publishFeed publishes k alarms to user:demo in batches of at most 1000
// through n, and returns their ids, oldest first.
func publishFeed(t *testing.T, hc *http.Client, n *testproc.Gateway, k int) []string {
	t.Helper()
	var ids []string
	for len(ids) < k {
		batch := min(1000, k-len(ids))
		items := make([]map[string]any, batch)
		for i := range items {
			f := feed[(len(ids)+i)%len(feed)]
			items[i] = map[string]any{"channel": "user:demo", "event": f.event,
				"data": map[string]any{"title": f.title, "text": f.text, "n": len(ids) + i + 1}}
		}
		ids = append(ids, publishBatch(t, hc, n, items)...)
	}
	return ids
}

// publishBatch publishes items with POST /v1/alarms/batch and returns their ids.
func publishBatch(t *testing.T, hc *http.Client, n *testproc.Gateway, items []map[string]any) []string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"alarms": items})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/v1/alarms/batch", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatalf("batch publish: %v", err)
	}
	defer res.Body.Close()
	var out struct {
		Results []struct {
			ID    string `json:"id"`
			Error *struct {
				Code string `json:"code"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || len(out.Results) != len(items) {
		t.Fatalf("batch publish: HTTP %d, %d results, decode: %v", res.StatusCode, len(out.Results), err)
	}
	ids := make([]string, len(items))
	for i, r := range out.Results {
		if r.Error != nil || r.ID == "" {
			t.Fatalf("batch publish: item %d failed: %+v", i, r.Error)
		}
		ids[i] = r.ID
	}
	return ids
}

// openInbox loads url in b and waits until the element is connected and
// its model loaded.
func openInbox(t *testing.T, b *browser, url string) elState {
	t.Helper()
	if err := b.do(chromedp.Navigate(url)); err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	s, _ := waitElement(t, b, "the inbox connected and loaded", waitLimit, func(s elState) bool {
		return s.Connection == "open" && s.Loaded && !s.Loading
	})
	return s
}

// scrollAll opens the popover and scrolls its list to the end until no
// page is left; it returns what the element shows then.
func scrollAll(t *testing.T, b *browser) elState {
	t.Helper()
	run(t, b, `document.querySelector('alarm-inbox').show()`)
	deadline := time.Now().Add(2 * waitLimit)
	for time.Now().Before(deadline) {
		s, err := readElement(b)
		if err == nil && s.Loaded && !s.Loading && !s.HasMore {
			return s
		}
		run(t, b, `(() => { const s = document.querySelector('alarm-inbox').shadowRoot.querySelector('.scroller'); s.scrollTop = s.scrollHeight; })()`)
		time.Sleep(50 * time.Millisecond)
	}
	s, err := readElement(b)
	t.Fatalf("scrolling did not reach the end (read error %v)\n%s\nconsole:\n%s", err, s, b.console.Tail(20))
	return s
}

// inboxReads lists the before parameter of every GET /v1/inbox the page
// made that was answered 200 ("" for the first page).
func inboxReads(t *testing.T, b *browser) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	reads, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`performance.getEntriesByType('resource')
	  .filter((e) => new URL(e.name).pathname === '/v1/inbox' && e.responseStatus === 200)
	  .map((e) => new URL(e.name).searchParams.get('before') || '')`))
	if err != nil {
		t.Fatal(err)
	}
	return reads
}

// TestInboxElementPages: 200 alarms published before the page opens are
// all listed after scrolling, newest first, with the badge capped at 99+
// and the exact count in the bell's name; then, with 1000 alarms, a
// reloaded page scrolled to the end read every page exactly once and
// lists every alarm once.
func TestInboxElementPages(t *testing.T) {
	h := setup(t)
	ids := publishFeed(t, h.hc, h.a, 200)
	s := openInbox(t, h.br, h.a.URL()+"/")
	if s.Badge != "99+" || s.Label != "Notifications, 200 unread" || s.Open || s.Expanded != "false" {
		t.Fatalf("before opening: want badge 99+, label \"Notifications, 200 unread\", closed\n%s", s)
	}
	s = scrollAll(t, h.br)
	if got := idsOf(s.Items); !slices.Equal(got, reversed(ids)) {
		t.Fatalf("listed %d alarms, want the 200 published, newest first\n%s", len(got), s)
	}
	for _, it := range s.Items {
		if it.Read || it.Title == "" || it.Time == "" {
			t.Fatalf("item %s: read=%v title=%q time=%q, want unread with a title and a time\n%s", it.ID, it.Read, it.Title, it.Time, s)
		}
	}
	if s.Badge != "99+" || s.Expanded != "true" {
		t.Fatalf("after scrolling: badge %q (want 99+: opening marks seen, not read), aria-expanded %s", s.Badge, s.Expanded)
	}

	all := append(ids, publishFeed(t, h.hc, h.b, 800)...)
	if err := h.br.do(chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	waitElement(t, h.br, "the reloaded inbox", waitLimit, func(s elState) bool { return s.Connection == "open" && s.Loaded })
	start := time.Now()
	s = scrollAll(t, h.br)
	t.Logf("1000 alarms: scrolled to the end in %v", time.Since(start))
	if got := idsOf(s.Items); !slices.Equal(got, reversed(all)) {
		t.Fatalf("listed %d alarms, want the 1000 published, each once, newest first\n%s", len(got), s)
	}
	reads := inboxReads(t, h.br)
	seen := make(map[string]bool)
	for _, r := range reads {
		if seen[r] {
			t.Fatalf("page before=%q read twice; reads: %v", r, reads)
		}
		seen[r] = true
	}
	if len(reads) != 20 {
		t.Fatalf("%d pages read, want 20 (1000 alarms, 50 a page): %v", len(reads), reads)
	}
	if s.Label != "Notifications, 1000 unread" {
		t.Fatalf("label %q, want \"Notifications, 1000 unread\"", s.Label)
	}
}

// TestInboxElementKeyboard: the element works from the keyboard alone (Tab
// reaches the bell, Enter opens and moves the focus to the newest alarm,
// ArrowDown moves, Enter marks read, Escape closes and the focus returns
// to the bell); and an alarm whose title is markup is shown as text.
func TestInboxElementKeyboard(t *testing.T) {
	h := setup(t)
	ids := publishFeed(t, h.hc, h.a, 3)
	openInbox(t, h.br, h.a.URL()+"/")
	key := func(what, keys string, ok func(elState) bool) elState {
		t.Helper()
		if err := h.br.do(chromedp.KeyEvent(keys)); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		s, _ := waitElement(t, h.br, what, 5*time.Second, ok)
		return s
	}
	key("Tab reaches the bell", kb.Tab, func(s elState) bool { return s.Focus == "bell" })
	key("Enter opens, focus on the newest alarm", kb.Enter, func(s elState) bool {
		return s.Open && s.Expanded == "true" && s.Focus == "item:"+ids[2] && len(s.Items) == 3
	})
	key("ArrowDown moves to the next alarm", kb.ArrowDown, func(s elState) bool { return s.Focus == "item:"+ids[1] })
	key("ArrowUp moves back", kb.ArrowUp, func(s elState) bool { return s.Focus == "item:"+ids[2] })
	key("ArrowDown again", kb.ArrowDown, func(s elState) bool { return s.Focus == "item:"+ids[1] })
	s := key("Enter marks it read", kb.Enter, func(s elState) bool {
		return len(s.Items) == 3 && s.Items[1].Read && !s.Items[1].Pending && s.Badge == "2"
	})
	if s.Items[0].Read || s.Items[2].Read || s.Label != "Notifications, 2 unread" {
		t.Fatalf("only %s must be read\n%s", ids[1], s)
	}
	key("Escape closes, focus back on the bell", kb.Escape, func(s elState) bool {
		return !s.Open && s.Expanded == "false" && s.Focus == "bell"
	})

	// Markup in alarm data is text.
	const evil = `<img src=x onerror=window.__xss=1>`
	id := publishTo(t, h.a, "user:demo", "evil", `{"title":"`+evil+`","text":"<b>bold</b> & <script>window.__xss=2</script>"}`)
	waitElement(t, h.br, "the badge counts the new alarm", waitLimit, func(s elState) bool { return s.Badge == "3" })
	key("Enter opens again", kb.Enter, func(s elState) bool { return s.Open && len(s.Items) == 4 && s.Items[0].ID == id })
	time.Sleep(300 * time.Millisecond) // an onerror would have run by now
	s, _ = waitElement(t, h.br, "the markup shown as text", 5*time.Second, func(s elState) bool { return true })
	if s.Items[0].Title != evil || s.Items[0].Text != "<b>bold</b> & <script>window.__xss=2</script>" || s.XSS != "" || s.Imgs != 0 {
		t.Fatalf("alarm data must be shown as text: title %q text %q, window.__xss=%q, %d <img>\n%s", s.Items[0].Title, s.Items[0].Text, s.XSS, s.Imgs, s)
	}
	if c := h.br.console.Tail(50); strings.Contains(c, "exception") {
		t.Errorf("the page threw:\n%s", c)
	}
}

// saveInboxScreenshot saves the page as inbox.png under the test's
// artifact directory and, with UPDATE_SCREENSHOT=1, as docs/inbox.png.
func saveInboxScreenshot(t *testing.T, b *browser, root string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	paths := []string{filepath.Join(t.ArtifactDir(), "inbox.png")}
	if os.Getenv("UPDATE_SCREENSHOT") == "1" {
		paths = append(paths, filepath.Join(root, "docs", "inbox.png"))
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			t.Fatalf("save screenshot: %v", err)
		}
		t.Logf("screenshot: %s", p)
	}
}

// docsInboxMarker precedes the element example of docs/browser-client.md.
const docsInboxMarker = "<!-- tested: browsertest TestDocsInboxExample"

// TestDocsInboxExample runs the <alarm-inbox> page printed in
// docs/browser-client.md, byte for byte, behind a proxy like the one the
// text describes (TestDocsBrowserExample's): alarms published before it
// opens show at once, with the badge and the page title it sets; a click
// marks one read; a live alarm comes in.
func TestDocsInboxExample(t *testing.T) {
	root := moduleRoot(t)
	page := markedBlock(t, filepath.Join(root, "docs", "browser-client.md"), docsInboxMarker, "html")
	bin := buildGateway(t, root)
	node := startNode(t, bin, startRedis(t), "A", "", "GATEWAY_ALLOWED_ORIGINS=")
	var tokensOK atomic.Bool
	tokensOK.Store(true)
	app := startDocsApp(t, node, page, mintToken(t, bin, "42"), &tokensOK)
	ids := []string{
		publishTo(t, node, "user:42", "order.shipped", `{"title":"Order 7 shipped","text":"DHL"}`),
		publishTo(t, node, "user:42", "order.paid", `{"title":"Order 8 paid"}`),
		publishTo(t, node, "user:42", "stock.low", `{"title":"Stock low: SKU-11","url":"https://example.com/sku/11"}`),
	}
	br := startBrowser(t)
	title := func() string {
		ctx, cancel := context.WithTimeout(br.ctx, 5*time.Second)
		defer cancel()
		s, _ := chromedp.Run(ctx, chromedp.Title())
		return s
	}
	s := openInbox(t, br, app.URL+"/")
	waitElement(t, br, "badge 3", waitLimit, func(s elState) bool { return s.Badge == "3" && s.Label == "Alerts, 3 unread" })
	if got := title(); got != "(3) Inbox" {
		t.Fatalf("page title %q, want (3) Inbox\n%s", got, s)
	}
	run(t, br, `document.querySelector('alarm-inbox').show()`)
	s, _ = waitElement(t, br, "the three alarms listed", waitLimit, func(s elState) bool { return len(s.Items) == 3 })
	if !slices.Equal(idsOf(s.Items), reversed(ids)) || s.Items[0].Title != "Stock low: SKU-11" || s.Items[2].Text != "DHL" {
		t.Fatalf("want the three alarms newest first with their titles\n%s", s)
	}
	run(t, br, clickJS(itemSel(ids[1], ".main")))
	waitElement(t, br, "one read", waitLimit, func(s elState) bool { return s.Badge == "2" && s.Items[1].Read && !s.Items[1].Pending })
	live := publishTo(t, node, "user:42", "order.refunded", `{"title":"Order 9 refunded"}`)
	waitElement(t, br, "the live alarm", waitLimit, func(s elState) bool {
		return len(s.Items) == 4 && s.Items[0].ID == live && s.Items[0].Title == "Order 9 refunded" && s.Badge == "3"
	})
	if got := title(); got != "(3) Inbox" {
		t.Fatalf("page title %q, want (3) Inbox", got)
	}
}

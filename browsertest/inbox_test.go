package browsertest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// syncLimit is how soon a state change made in one page must show in the
// other (issue 12: within a second).
const syncLimit = time.Second

// inboxPage is what the demo page shows of the inbox.
type inboxPage struct {
	State string            `json:"state"`
	Node  string            `json:"node"`
	Badge string            `json:"badge"`
	Read  map[string]string `json:"read"` // alarm id -> data-read
}

const readInboxJS = `(() => {
  const q = (s) => document.querySelector(s);
  const read = {};
  for (const li of document.querySelectorAll('#alarms li[data-id]')) read[li.dataset.id] = li.dataset.read || '';
  return { state: q('#state').textContent, node: q('#node').textContent,
    badge: q('#unread-badge') ? q('#unread-badge').textContent : '', read };
})()`

// newTab opens another tab in br's browser (its own page, same profile).
func newTab(t *testing.T, br *browser) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(br.ctx)
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open tab: %v", err)
	}
	tab := &browser{ctx: ctx, output: br.output, console: &testproc.LogBuffer{}}
	if err := chromedp.Listen(ctx, tab.onEvent); err != nil {
		t.Fatal(err)
	}
	return tab
}

func readInbox(b *browser) (inboxPage, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[inboxPage](readInboxJS))
}

// waitInbox polls tab until ok holds, for at most limit, and returns how
// long it took.
func waitInbox(t *testing.T, tab *browser, what string, limit time.Duration, ok func(inboxPage) bool) time.Duration {
	t.Helper()
	start := time.Now()
	var last inboxPage
	var err error
	for time.Since(start) < limit {
		if last, err = readInbox(tab); err == nil && ok(last) {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v; page %+v (read error %v)\nconsole:\n%s", what, limit, last, err, tab.console.Tail(20))
	return 0
}

func allRead(p inboxPage, ids []string, want string) bool {
	for _, id := range ids {
		if p.Read[id] != want {
			return false
		}
	}
	return true
}

// TestInboxTwoPages: two pages of user demo on different nodes. Marking
// alarms read in one (a click, then "Mark all read") changes the badge and
// the styling in the other within a second, also when the other page's
// node was just SIGKILLed (the change reaches it by resume on node A).
func TestInboxTwoPages(t *testing.T) {
	h := setup(t)
	h.openPage() // tab 1: node A's page, connected to A
	tab2 := newTab(t, h.br)
	if err := tab2.do(chromedp.Navigate(h.b.URL() + "/")); err != nil {
		t.Fatal(err)
	}
	// Tab 2 on B, with A as its second endpoint for the failover.
	if err := tab2.do(
		chromedp.WaitVisible(chromedp.ID("ws-url")),
		chromedp.SetValue(chromedp.ID("ws-url"), h.b.WSURL()+", "+h.a.WSURL()),
		chromedp.Click(chromedp.ID("connect")),
	); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, tab2, "tab 2 open on B", waitLimit, func(p inboxPage) bool { return p.State == "open" && p.Node == "B" })

	ids := h.publish(h.a, 4)
	for i, tab := range []*browser{h.br, tab2} {
		waitInbox(t, tab, fmt.Sprintf("tab %d shows 4 unread", i+1), waitLimit, func(p inboxPage) bool {
			return p.Badge == "4" && allRead(p, ids, "false")
		})
	}

	// A click on an alarm in tab 1 marks it read in tab 2.
	if err := h.br.do(chromedp.Click(chromedp.CSS(`#alarms li[data-id="` + ids[0] + `"]`))); err != nil {
		t.Fatal(err)
	}
	took := waitInbox(t, tab2, "tab 2 sees the click", syncLimit, func(p inboxPage) bool {
		return p.Badge == "3" && p.Read[ids[0]] == "true" && allRead(p, ids[1:], "false")
	})
	t.Logf("click in tab 1 (node A) -> tab 2 (node B): %v", took)

	// "Mark all read" in tab 1 clears tab 2's badge.
	if err := h.br.do(chromedp.Click(chromedp.ID("mark-all-read"))); err != nil {
		t.Fatal(err)
	}
	took = waitInbox(t, tab2, "tab 2 sees mark all read", syncLimit, func(p inboxPage) bool {
		return p.Badge == "0" && allRead(p, ids, "true")
	})
	t.Logf("mark all read in tab 1 -> tab 2: %v", took)

	// New alarms; then node B (tab 2's node) is SIGKILLed and tab 1 marks
	// one read at once: tab 2 reconnects to A and gets it by resume.
	more := h.publish(h.a, 2)
	waitInbox(t, tab2, "tab 2 shows 2 unread", waitLimit, func(p inboxPage) bool { return p.Badge == "2" && allRead(p, more, "false") })
	h.b.Kill()
	if err := h.br.do(chromedp.Click(chromedp.CSS(`#alarms li[data-id="` + more[1] + `"]`))); err != nil {
		t.Fatal(err)
	}
	took = waitInbox(t, tab2, "tab 2 sees the click after B's SIGKILL", syncLimit, func(p inboxPage) bool {
		return p.Node == "A" && p.Badge == "1" && p.Read[more[1]] == "true" && p.Read[more[0]] == "false"
	})
	t.Logf("click in tab 1 -> tab 2 across the SIGKILL of its node: %v", took)
	// And back: tab 2 (now on A) marks the last one read; tab 1 follows.
	if err := tab2.do(chromedp.Click(chromedp.CSS(`#alarms li[data-id="` + more[0] + `"]`))); err != nil {
		t.Fatal(err)
	}
	waitInbox(t, h.br, "tab 1 sees tab 2's click", syncLimit, func(p inboxPage) bool { return p.Badge == "0" && allRead(p, more, "true") })
	h.screenshot("inbox.png", false)
}

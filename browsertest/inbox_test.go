package browsertest

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// newDevice opens a tab in a browser context of its own: another device,
// with its own storage, that shares nothing with br's pages.
func newDevice(t *testing.T, br *browser) *browser {
	t.Helper()
	ctx, cancel := chromedp.NewContext(br.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("open a browser context: %v", err)
	}
	d := &browser{ctx: ctx, output: br.output, console: &testproc.LogBuffer{}}
	if err := chromedp.Listen(ctx, d.onEvent); err != nil {
		t.Fatal(err)
	}
	return d
}

// shown is the list and badge of a device, to compare two.
func shown(s elState) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "badge %q:", s.Badge)
	for _, it := range s.Items {
		fmt.Fprintf(&sb, " %s/%v", it.ID, it.Read)
	}
	return sb.String()
}

// reads lists whether each item is read.
func reads(s elState) []bool {
	out := make([]bool, len(s.Items))
	for i, it := range s.Items {
		out[i] = it.Read
	}
	return out
}

// TestInboxElementDevices: two devices (browser contexts) of user demo on
// two nodes, one over WebSocket, one over SSE. Reading, "mark all read", archiving and marking unread on one
// show on the other within a second, a reload keeps the state, a device
// that was closed while alarms were published and read elsewhere shows the
// same list and counts when it reopens, and a change still arrives within
// a second when the other device's node is SIGKILLed.
func TestInboxElementDevices(t *testing.T) {
	h := setup(t)
	ids := publishFeed(t, h.hc, h.a, 6)
	d1 := h.br
	openInbox(t, d1, h.a.URL()+"/")
	d2 := newDevice(t, h.br)
	openInbox(t, d2, h.a.URL()+"/")
	// Device 2 receives over SSE from B (A as its second endpoint); its
	// inbox's HTTP calls, changes included, go to its page's node.
	connectSSE := func() {
		t.Helper()
		if err := d2.do(
			chromedp.SetValue(chromedp.ID("ws-url"), h.b.WSURL()+", "+h.a.WSURL()),
			chromedp.SetValue(chromedp.ID("transport"), "sse"),
			chromedp.Click(chromedp.ID("connect")),
		); err != nil {
			t.Fatal(err)
		}
	}
	connectSSE()
	waitInbox(t, d2, "device 2 on B", waitLimit, func(p inboxPage) bool { return p.State == "open" && p.Node == "B" })
	for _, d := range []*browser{d1, d2} {
		run(t, d, `document.querySelector('alarm-inbox').show()`)
		waitElement(t, d, "6 unread listed", waitLimit, func(s elState) bool { return s.Badge == "6" && len(s.Items) == 6 && s.Loaded })
	}

	sync := func(what string, from *browser, js string, to *browser, ok func(elState) bool) {
		t.Helper()
		run(t, from, js)
		_, took := waitElement(t, to, what, syncLimit, ok)
		t.Logf("%s: %v", what, took)
	}
	sync("a click on device 1 reads it on device 2", d1, clickJS(itemSel(ids[4], ".main")), d2, func(s elState) bool {
		return s.Badge == "5" && slices.Equal(idsOf(s.Items), reversed(ids)) && s.Items[1].Read && !s.Items[0].Read
	})
	saveInboxScreenshot(t, d1, h.root)
	sync("mark all read on device 2 clears device 1", d2, clickJS(".mark-all"), d1, func(s elState) bool {
		return s.Badge == "" && s.Label == "Notifications" && len(s.Items) == 6 && !slices.Contains(reads(s), false)
	})
	sync("archived on device 1, gone on device 2", d1, clickJS(itemSel(ids[5], ".archive")), d2, func(s elState) bool {
		return slices.Equal(idsOf(s.Items), reversed(ids[:5]))
	})
	sync("unread on device 2, unread on device 1", d2, `document.querySelector('alarm-inbox').inbox.markUnread(['`+ids[0]+`'])`, d1, func(s elState) bool {
		return s.Badge == "1" && len(s.Items) == 5 && !s.Items[4].Read && s.Items[3].Read
	})

	// A reload keeps it all.
	want, _ := waitElement(t, d1, "device 1", time.Second, func(elState) bool { return true })
	if err := d1.do(chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	run(t, d1, `document.querySelector('alarm-inbox').show()`)
	waitElement(t, d1, "the reloaded page shows the same", waitLimit, func(s elState) bool { return s.Loaded && shown(s) == shown(want) })
	run(t, d1, clickJS(`.tab[data-filter="archived"]`))
	waitElement(t, d1, "the archived tab", waitLimit, func(s elState) bool {
		return s.Filter == "archived" && s.Loaded && slices.Equal(idsOf(s.Items), ids[5:])
	})
	run(t, d1, clickJS(`.tab[data-filter="all"]`))

	// Device 2 closes; alarms come and are read and archived elsewhere.
	if err := d2.do(chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	more := publishFeed(t, h.hc, h.b, 3)
	waitElement(t, d1, "device 1 lists the new alarms", waitLimit, func(s elState) bool { return len(s.Items) == 8 && s.Badge == "4" })
	run(t, d1, clickJS(itemSel(more[1], ".main")))
	run(t, d1, clickJS(itemSel(more[2], ".archive")))
	want, _ = waitElement(t, d1, "device 1 after the changes", waitLimit, func(s elState) bool {
		return len(s.Items) == 7 && s.Badge == "2" && !slices.ContainsFunc(s.Items, func(it elItem) bool { return it.Pending })
	})
	openInbox(t, d2, h.a.URL()+"/")
	run(t, d2, `document.querySelector('alarm-inbox').show()`)
	waitElement(t, d2, "the reopened device shows what device 1 shows", waitLimit, func(s elState) bool { return s.Loaded && shown(s) == shown(want) })

	// Device 2 back on B; B is SIGKILLed while device 1 reads: device 2
	// resumes on A and shows it.
	connectSSE()
	waitInbox(t, d2, "device 2 on B again", waitLimit, func(p inboxPage) bool { return p.State == "open" && p.Node == "B" })
	run(t, d2, `document.querySelector('alarm-inbox').show()`) // the click on Connect closed it
	waitElement(t, d2, "device 2 lists them again", waitLimit, func(s elState) bool { return s.Loaded && shown(s) == shown(want) })
	h.b.Kill()
	sync("read on device 1 while device 2's node dies", d1, clickJS(itemSel(more[0], ".main")), d2, func(s elState) bool {
		return s.Badge == "1" && len(s.Items) == 7 && s.Items[0].ID == more[1] && s.Items[1].ID == more[0] && s.Items[1].Read
	})
	p, err := readInbox(d2)
	if err != nil || p.Node != "A" {
		t.Fatalf("device 2 is on node %q (%v), want A after B's SIGKILL", p.Node, err)
	}
}

// TestInboxElementSharedTabs: two tabs of one browser in shared mode (one
// connection, held by the leader tab): each tab's element has its own
// model, and a change in either shows in the other within a second.
func TestInboxElementSharedTabs(t *testing.T) {
	h := setup(t)
	ids := publishFeed(t, h.hc, h.a, 4)
	tabs := []*browser{h.br, newTab(t, h.br)}
	for i, tb := range tabs {
		openInbox(t, tb, h.a.URL()+"/")
		if err := tb.do(chromedp.Click(chromedp.ID("shared")), chromedp.Click(chromedp.ID("connect"))); err != nil {
			t.Fatal(err)
		}
		waitInbox(t, tb, fmt.Sprintf("tab %d open in shared mode", i+1), waitLimit, func(p inboxPage) bool { return p.State == "open" })
		run(t, tb, `document.querySelector('alarm-inbox').show()`)
		waitElement(t, tb, fmt.Sprintf("tab %d lists 4", i+1), waitLimit, func(s elState) bool { return s.Loaded && len(s.Items) == 4 && s.Badge == "4" })
	}
	roles := make([]string, len(tabs))
	for i, tb := range tabs {
		ctx, cancel := context.WithTimeout(tb.ctx, waitLimit)
		r, err := chromedp.Run(ctx, chromedp.Evaluate[string](`window.alarmDemo.client.role() || ''`))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		roles[i] = r
	}
	if !slices.Contains(roles, "leader") || !slices.Contains(roles, "follower") {
		t.Fatalf("roles %v, want one leader and one follower", roles)
	}
	for i, from := range tabs {
		to := tabs[1-i]
		id := ids[i]
		start := time.Now()
		run(t, from, clickJS(itemSel(id, ".main")))
		_, took := waitElement(t, to, fmt.Sprintf("a read in the %s tab shows in the other", roles[i]), syncLimit, func(s elState) bool {
			return s.Badge == strconv.Itoa(3-i) && slices.ContainsFunc(s.Items, func(it elItem) bool { return it.ID == id && it.Read && !it.Pending })
		})
		t.Logf("%s tab -> %s tab: %v (%v after the click)", roles[i], roles[1-i], took, time.Since(start))
	}
}

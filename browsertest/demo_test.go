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
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// TestDemoPage opens node A's demo page in Chromium with both nodes as
// endpoints, then checks live delivery, failover to B after SIGKILL with a
// resume replay (each alarm exactly once, in id order), and a reload that
// resumes from localStorage.
func TestDemoPage(t *testing.T) {
	h := setup(t)

	h.openPage()
	h.connectBoth()
	live := h.publish(h.b, 5)
	h.waitAlarms("the 5 live alarms on node A", "A", live)

	missed := h.failover()
	all := slices.Concat(live, missed)
	s := h.waitAlarms("the 5 missed alarms replayed by node B", "B", all)
	for i, a := range s.Alarms {
		if want := i >= len(live); a.Replayed != want {
			t.Errorf("alarm %s: data-replayed=%v, want %v (live ones came before the kill)\n%s", a.ID, a.Replayed, want, h.dump(s, nil))
		}
	}
	h.checkStored(all[len(all)-1])
	h.screenshot("failover.png", true)

	h.reload(all[len(all)-1])
	after := h.publish(h.b, 2)
	h.waitAlarms("2 alarms after the reload", "A2", after)
	h.screenshot("reloaded.png", false)
	if c := h.br.console.Tail(50); strings.Contains(c, "exception") {
		t.Errorf("the page threw:\n%s", c)
	}
}

// harness holds the processes and the browser of one test.
type harness struct {
	t        *testing.T
	root     string // module root
	bin      string // gateway binary
	redisURL string
	a, b     *testproc.Gateway
	a2       *testproc.Gateway // node A restarted on A's address
	gate     *gate             // in front of B: the page's only way to reach it
	br       *browser
	hc       *http.Client
	epoch    string // from the publish answers
	seq      int    // alarms published so far
}

func setup(t *testing.T) *harness {
	h := &harness{t: t, root: moduleRoot(t)}
	h.bin = buildGateway(t, h.root)
	h.redisURL = startRedis(t)
	h.a = startNode(t, h.bin, h.redisURL, "A", "")
	h.b = startNode(t, h.bin, h.redisURL, "B", "")
	h.gate = newGate(t, h.b.Addr)
	tr := &http.Transport{}
	h.hc = &http.Client{Timeout: 10 * time.Second, Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
	h.br = startBrowser(t)
	return h
}

// openPage loads node A's page, which connects to A on its own (demo config).
func (h *harness) openPage() {
	if err := h.br.do(chromedp.Navigate(h.a.URL() + "/")); err != nil {
		h.t.Fatalf("open %s: %v\n%s", h.a.URL(), err, h.dump(pageState{}, err))
	}
	h.waitFor("page connected to node A by itself", func(s pageState) bool {
		return s.State == "open" && s.Node == "A"
	})
}

// connectBoth enters both nodes as the page's endpoints (A first, B through
// the gate) and presses Connect: the new client resumes from the position
// the first one saved.
func (h *harness) connectBoth() {
	urls := h.a.WSURL() + ", ws://" + h.gate.addr() + "/v1/ws"
	if err := h.br.do(
		chromedp.SetValue(chromedp.ID("ws-url"), urls),
		chromedp.Click(chromedp.ID("connect")),
	); err != nil {
		h.t.Fatalf("connect to %s: %v", urls, err)
	}
	h.waitFor("page reconnected to A with both endpoints", func(s pageState) bool {
		return s.State == "open" && s.Node == "A" && countLog(s, "open on A (resumed)") == 1
	})
}

// failover shuts the gate, SIGKILLs node A, publishes 5 alarms through B while
// the page cannot reach any node, and opens the gate. It returns their ids.
func (h *harness) failover() []string {
	h.gate.open.Store(false)
	h.a.Kill()
	h.waitFor("page disconnected and refused by B's gate", func(s pageState) bool {
		return s.State != "open" && h.gate.refused.Load() > 0
	})
	missed := h.publish(h.b, 5)
	h.gate.open.Store(true)
	return missed
}

// reload restarts node A on its address (the page's origin) as "A2",
// reloads the page and checks that it resumed from localStorage.
func (h *harness) reload(lastID string) {
	h.a2 = startNode(h.t, h.bin, h.redisURL, "A2", h.a.Addr)
	if err := h.br.do(chromedp.Reload()); err != nil {
		h.t.Fatalf("reload: %v\n%s", err, h.dump(pageState{}, err))
	}
	s := h.waitFor("reloaded page connected to A2", func(s pageState) bool {
		return s.State == "open" && s.Node == "A2"
	})
	switch {
	case countLog(s, "open on A2 (resumed)") != 1 || countLog(s, "resumed: 0 replayed") != 1:
		h.t.Fatalf("reloaded page did not resume with 0 replayed:\n%s", h.dump(s, nil))
	case s.LastID != lastID || s.Epoch != h.epoch:
		h.t.Fatalf("reloaded page shows #last-id %q #epoch %q, want %q %q (from localStorage):\n%s",
			s.LastID, s.Epoch, lastID, h.epoch, h.dump(s, nil))
	case !s.StaleHidden || len(s.Alarms) != 0:
		h.t.Fatalf("reloaded page shows a stale banner or alarms:\n%s", h.dump(s, nil))
	}
}

// waitAlarms waits until the page is open on node and its newest alarm is the
// last of want, then requires its list to be exactly want, in order.
func (h *harness) waitAlarms(what, node string, want []string) pageState {
	last := want[len(want)-1]
	s := h.waitFor(what, func(s pageState) bool {
		return s.State == "open" && s.Node == node && s.LastID == last &&
			len(s.Alarms) > 0 && s.Alarms[len(s.Alarms)-1].ID == last
	})
	if got := ids(s.Alarms); !slices.Equal(got, want) {
		h.t.Fatalf("%s: #alarms ids (oldest first) = %v, want each published id exactly once, in order: %v\n%s",
			what, got, want, h.dump(s, nil))
	}
	if !s.StaleHidden || s.Epoch != h.epoch {
		h.t.Fatalf("%s: stale banner shown or #epoch %q != %q\n%s", what, s.Epoch, h.epoch, h.dump(s, nil))
	}
	return s
}

// checkStored requires the page's saved position to be lastID.
func (h *harness) checkStored(lastID string) {
	ctx, cancel := context.WithTimeout(h.br.ctx, waitLimit)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](`localStorage.getItem('alarmgate:demo') || ''`))
	var pos struct {
		LastID string `json:"last_id"`
		Epoch  string `json:"epoch"`
	}
	if err == nil {
		err = json.Unmarshal([]byte(raw), &pos)
	}
	if err != nil || pos.LastID != lastID || pos.Epoch != h.epoch {
		h.t.Fatalf("localStorage alarmgate:demo = %q (%v), want last_id %q epoch %q", raw, err, lastID, h.epoch)
	}
}

func countLog(s pageState, substr string) int {
	n := 0
	for _, l := range s.Log {
		if strings.Contains(l, substr) {
			n++
		}
	}
	return n
}

// waitFor polls the page until ok holds, for at most waitLimit.
func (h *harness) waitFor(what string, ok func(pageState) bool) pageState {
	h.t.Helper()
	deadline := time.Now().Add(waitLimit)
	var last pageState
	for {
		s, err := h.br.read()
		if err == nil {
			if ok(s) {
				return s
			}
			last = s
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("%s: not within %v\n%s", what, waitLimit, h.dump(last, err))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// dump describes the page, the browser and the nodes for a failure message.
func (h *harness) dump(s pageState, err error) string {
	var sb strings.Builder
	if err != nil {
		fmt.Fprintf(&sb, "last page read error: %v\n", err)
	}
	sb.WriteString("--- page\n" + s.String())
	sb.WriteString("--- page console\n" + h.br.console.Tail(20) + "\n")
	for _, n := range []*testproc.Gateway{h.a, h.b, h.a2} {
		if n != nil {
			fmt.Fprintf(&sb, "--- node %s (%s) log tail\n%s\n", n.Name, n.Addr, n.LogTail(15))
		}
	}
	fmt.Fprintf(&sb, "--- gate to B: open=%v refused=%d\n", h.gate.open.Load(), h.gate.refused.Load())
	return sb.String()
}

// screenshot saves the full page under the test's artifact directory (a
// temp dir unless go test -artifacts) and, with UPDATE_SCREENSHOT=1 and
// docs set, as docs/demo.png.
func (h *harness) screenshot(name string, docs bool) {
	ctx, cancel := context.WithTimeout(h.br.ctx, waitLimit)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		h.t.Fatalf("screenshot: %v", err)
	}
	paths := []string{filepath.Join(h.t.ArtifactDir(), name)}
	if docs && os.Getenv("UPDATE_SCREENSHOT") == "1" {
		paths = append(paths, filepath.Join(h.root, "docs", "demo.png"))
	}
	for _, p := range paths {
		if err := os.WriteFile(p, png, 0o644); err != nil {
			h.t.Fatalf("save screenshot: %v", err)
		}
		h.t.Logf("screenshot: %s", p)
	}
}

// samples make the alarms (and docs/demo.png) look like a real feed.
var samples = []struct {
	event string
	data  map[string]any
}{
	{"order.shipped", map[string]any{"order": "A-1042", "carrier": "DHL"}},
	{"payment.failed", map[string]any{"order": "A-1043", "reason": "card declined"}},
	{"ticket.assigned", map[string]any{"ticket": 311, "team": "ops"}},
	{"build.finished", map[string]any{"pipeline": "main", "status": "green"}},
	{"disk.almost_full", map[string]any{"host": "db-2", "used": "91%"}},
	{"login.new_device", map[string]any{"device": "Firefox on Linux", "city": "Lisbon"}},
	{"backup.completed", map[string]any{"db": "orders", "size_mb": 812}},
	{"cert.expiring", map[string]any{"domain": "api.example.com", "days": 9}},
	{"order.delivered", map[string]any{"order": "A-1042"}},
	{"invoice.paid", map[string]any{"invoice": "INV-2231", "amount": "129.00 EUR"}},
	{"queue.backlog", map[string]any{"queue": "emails", "depth": 5400}},
	{"deploy.rolled_back", map[string]any{"service": "search", "to": "v2.3.1"}},
}

// publish posts k alarms to user:demo through n's HTTP API, one after the
// other, and returns their ids.
func (h *harness) publish(n *testproc.Gateway, k int) []string {
	out := make([]string, 0, k)
	for range k {
		smp := samples[h.seq%len(samples)]
		h.seq++
		body, _ := json.Marshal(map[string]any{"channel": "user:demo", "event": smp.event,
			"data": map[string]any{"n": h.seq, "detail": smp.data}})
		id, epoch, err := h.post(n, body)
		if err != nil {
			h.t.Fatalf("publish #%d through node %s: %v\n%s", h.seq, n.Name, err, h.dump(pageState{}, nil))
		}
		if h.epoch == "" {
			h.epoch = epoch
		}
		out = append(out, id)
	}
	return out
}

func (h *harness) post(n *testproc.Gateway, body []byte) (id, epoch string, err error) {
	return postAlarm(h.hc, n, body)
}

// postAlarm publishes body through n's HTTP API and returns the alarm's id
// and epoch.
func postAlarm(hc *http.Client, n *testproc.Gateway, body []byte) (id, epoch string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.URL()+"/v1/alarms", bytes.NewReader(body))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Content-Type", "application/json")
	res, err := hc.Do(req)
	if err != nil {
		return "", "", err
	}
	defer res.Body.Close()
	var out struct {
		ID    string `json:"id"`
		Epoch string `json:"epoch"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusCreated || out.ID == "" {
		return "", "", fmt.Errorf("HTTP %d, id %q, decode: %v", res.StatusCode, out.ID, err)
	}
	return out.ID, out.Epoch, nil
}

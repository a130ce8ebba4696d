package browsertest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// chromiumPath finds Chromium; CI installs it, so its absence fails the test.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium not found: install it with `apt-get update && apt-get install -y chromium`")
	return ""
}

// browser is one headless Chromium with one tab.
type browser struct {
	ctx     context.Context     // chromedp context of the tab
	output  *testproc.LogBuffer // Chromium's own stdout and stderr
	console *testproc.LogBuffer // the page's console messages and uncaught exceptions
}

// startBrowser launches Chromium with a fresh profile; t.Cleanup closes it
// and waits for the process and chromedp's goroutines to end.
func startBrowser(t *testing.T) *browser {
	t.Helper()
	b := &browser{output: &testproc.LogBuffer{}, console: &testproc.LogBuffer{}}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(b.output),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(cctx)
		cancelTab()
		cancelAlloc()
	})
	// The first action starts the browser; it must run on the tab's own
	// context (not one with a timeout), which owns the browser's lifetime.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v\n%s", err, b.output.Tail(30))
	}
	if err := chromedp.Listen(ctx, b.onEvent); err != nil {
		t.Fatalf("listen to page events: %v", err)
	}
	b.ctx = ctx
	return b
}

// onEvent records console calls and exceptions (runs on chromedp's reader).
func (b *browser) onEvent(ev any) {
	switch ev := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		args := make([]string, 0, len(ev.Args))
		for _, a := range ev.Args {
			if len(a.Value) > 0 {
				args = append(args, string(a.Value))
			} else {
				args = append(args, a.Description)
			}
		}
		fmt.Fprintf(b.console, "console.%s: %s\n", ev.Type, strings.Join(args, " "))
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		desc := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			desc = d.Exception.Description
		}
		fmt.Fprintf(b.console, "exception at %s:%d: %s\n", d.URL, d.LineNumber+1, desc)
	}
}

// do runs steps with the package's time bound.
func (b *browser) do(steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, waitLimit)
	defer cancel()
	return chromedp.Do(ctx, steps...)
}

// pageAlarm is one #alarms li as the page shows it.
type pageAlarm struct {
	ID       string `json:"id"`
	Event    string `json:"event"`
	Replayed bool   `json:"replayed"`
}

// pageState is what the demo page shows, read from its DOM.
type pageState struct {
	State       string      `json:"state"`
	Node        string      `json:"node"`
	Epoch       string      `json:"epoch"`
	LastID      string      `json:"lastId"`
	StaleHidden bool        `json:"staleHidden"`
	StaleText   string      `json:"staleText"`
	Alarms      []pageAlarm `json:"alarms"` // oldest first (the page lists newest first)
	Log         []string    `json:"log"`    // oldest first
}

const readStateJS = `(() => {
  const q = (s) => document.querySelector(s);
  const text = (s) => (q(s) ? q(s).textContent : '');
  return {
    state: text('#state'), node: text('#node'), epoch: text('#epoch'), lastId: text('#last-id'),
    staleHidden: q('#stale-banner') ? q('#stale-banner').hidden : true, staleText: text('#stale-text'),
    alarms: [...document.querySelectorAll('#alarms li[data-id]')].reverse().map((li) => ({
      id: li.dataset.id, event: li.dataset.event || '', replayed: li.dataset.replayed === 'true' })),
    log: [...document.querySelectorAll('#log li')].reverse().map((li) => li.textContent),
  };
})()`

// read returns the page's state; it fails while the page is (re)loading.
func (b *browser) read() (pageState, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[pageState](readStateJS))
}

// ids returns the ids of alarms, in order.
func ids(alarms []pageAlarm) []string {
	out := make([]string, len(alarms))
	for i, a := range alarms {
		out[i] = a.ID
	}
	return out
}

func (s pageState) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "#state=%q #node=%q #epoch=%q #last-id=%q stale banner hidden=%v %q\n",
		s.State, s.Node, s.Epoch, s.LastID, s.StaleHidden, s.StaleText)
	fmt.Fprintf(&sb, "#alarms (%d, oldest first):\n", len(s.Alarms))
	for _, a := range s.Alarms {
		fmt.Fprintf(&sb, "  %s %s replayed=%v\n", a.ID, a.Event, a.Replayed)
	}
	sb.WriteString("#log (oldest first):\n")
	for _, l := range s.Log {
		sb.WriteString("  " + l + "\n")
	}
	return sb.String()
}

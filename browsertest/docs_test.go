package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// docsMarker precedes the fenced block of docs/browser-client.md that
// TestDocsBrowserExample runs.
const docsMarker = "<!-- tested: browsertest TestDocsBrowserExample"

// TestDocsBrowserExample runs the page printed in docs/browser-client.md,
// byte for byte, in Chromium, set up as the page's text describes: one
// origin (a reverse proxy) serves the page, answers /api/alarm-token like
// the application's backend, and sends everything else (/client.js,
// /v1/ws) to a gateway node that allows no other origins. The token
// endpoint fails first: the page must show the error while the client
// retries, then connect, hide it, and show an alarm published to the
// page's user.
func TestDocsBrowserExample(t *testing.T) {
	root := moduleRoot(t)
	page := markedBlock(t, filepath.Join(root, "docs", "browser-client.md"), docsMarker, "html")
	bin := buildGateway(t, root)
	node := startNode(t, bin, startRedis(t), "A", "", "GATEWAY_ALLOWED_ORIGINS=")
	token := mintToken(t, bin, "42")

	var tokensOK atomic.Bool
	app := startDocsApp(t, node, page, token, &tokensOK)
	br := startBrowser(t)
	if err := br.do(chromedp.Navigate(app.URL + "/")); err != nil {
		t.Fatalf("open %s: %v", app.URL, err)
	}

	s := waitDocsPage(t, br, "the token error shown", func(s docsPage) bool {
		return !s.ProblemHidden && strings.Contains(s.Problem, "alarm token: HTTP 503")
	})
	if s.Status == "open" {
		t.Fatalf("the page is open without a token\n%s", s)
	}
	tokensOK.Store(true)
	waitDocsPage(t, br, "connected", func(s docsPage) bool { return s.Status == "open" && s.ProblemHidden })

	id := publishTo(t, node, "user:42", "order.shipped", `{"order":7}`)
	s = waitDocsPage(t, br, "the alarm shown", func(s docsPage) bool { return len(s.Alarms) > 0 })
	want := docsAlarm{ID: id, Text: `order.shipped {"order":7}`}
	if len(s.Alarms) != 1 || s.Alarms[0] != want {
		t.Fatalf("alarms on the page = %+v, want [%+v]\n%s", s.Alarms, want, s)
	}
	if !s.ProblemHidden {
		t.Fatalf("a problem is shown after the alarm arrived\n%s", s)
	}
}

// markedBlock returns the body of the fenced code block of language lang
// that follows the line starting with marker in the markdown file at path.
// Exactly one such marker must exist.
func markedBlock(t *testing.T, path, marker, lang string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var found []string
	for i, l := range lines {
		if !strings.HasPrefix(l, marker) {
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```"+lang {
			t.Fatalf("%s:%d: the marker must be followed by a ```%s fence", path, i+1, lang)
		}
		end := i + 2
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		if end == len(lines) {
			t.Fatalf("%s:%d: the fenced block is not closed", path, i+2)
		}
		found = append(found, strings.Join(lines[i+2:end], "\n")+"\n")
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d blocks marked %q, want 1", path, len(found), marker)
	}
	return found[0]
}

// mintToken mints a client token for sub with the gateway's own `token`
// subcommand, as the application's backend would with any JWT library.
func mintToken(t *testing.T, bin, sub string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "token", "-sub", sub, "-ttl", "1h")
	cmd.Env = append(testproc.CleanEnv(), "GATEWAY_JWT_SECRET="+testSecret)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("gateway token: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// startDocsApp serves the page at / and a token at /api/alarm-token (503
// until tokensOK is set), and proxies every other path to node with the
// request's own Host, like a reverse proxy in front of app and nodes.
func startDocsApp(t *testing.T, node *testproc.Gateway, page, token string, tokensOK *atomic.Bool) *httptest.Server {
	t.Helper()
	target, err := url.Parse(node.URL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
	}}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(page))
	})
	mux.HandleFunc("GET /api/alarm-token", func(w http.ResponseWriter, _ *http.Request) {
		if !tokensOK.Load() {
			http.Error(w, "not yet", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte(token))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// publishTo publishes one alarm through node and returns its id.
func publishTo(t *testing.T, node *testproc.Gateway, channel, event, data string) string {
	t.Helper()
	body, err := json.Marshal(map[string]any{"channel": channel, "event": event, "data": json.RawMessage(data)})
	if err != nil {
		t.Fatal(err)
	}
	id, _, err := postAlarm(http.DefaultClient, node, body)
	if err != nil {
		t.Fatalf("publish on %s: %v", channel, err)
	}
	return id
}

// docsAlarm is one #alarms li of the documented page.
type docsAlarm struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// docsPage is what the documented page shows.
type docsPage struct {
	Status        string      `json:"status"`
	Problem       string      `json:"problem"`
	ProblemHidden bool        `json:"problemHidden"`
	Alarms        []docsAlarm `json:"alarms"` // newest first, as shown
}

const readDocsPageJS = `(() => {
  const q = (s) => document.querySelector(s);
  return {
    status: q('#status') ? q('#status').textContent : '',
    problem: q('#problem') ? q('#problem').textContent : '',
    problemHidden: q('#problem') ? q('#problem').hidden : true,
    alarms: [...document.querySelectorAll('#alarms li')].map((li) => ({ id: li.dataset.id || '', text: li.textContent })),
  };
})()`

func (s docsPage) String() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "#status=%q #problem=%q (hidden %v)\n", s.Status, s.Problem, s.ProblemHidden)
	for _, a := range s.Alarms {
		fmt.Fprintf(&sb, "  li %s %q\n", a.ID, a.Text)
	}
	return sb.String()
}

// waitDocsPage polls the page until ok holds and returns what it showed;
// it fails the test after waitLimit with the page and its console.
func waitDocsPage(t *testing.T, br *browser, what string, ok func(docsPage) bool) docsPage {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	var last docsPage
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(br.ctx, 5*time.Second)
		s, err := chromedp.Run(ctx, chromedp.Evaluate[docsPage](readDocsPageJS))
		cancel()
		if err == nil {
			last = s
			if ok(s) {
				return s
			}
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("waiting for %s: not within %v (last read error: %v)\n%s\nconsole:\n%s", what, waitLimit, lastErr, last, br.console.Tail(30))
	return last
}

package web

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func get(t *testing.T, h http.Handler, method, path string, hdr http.Header) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesAssets(t *testing.T) {
	h := Handler()
	tests := []struct {
		path, ctype, contains string
	}{
		{"/", "text/html; charset=utf-8", `id="alarms"`},
		{"/index.html", "text/html; charset=utf-8", `src="./demo.js"`},
		{"/client.js", "text/javascript; charset=utf-8", "export class AlarmClient extends EventTarget"},
		{"/demo.js", "text/javascript; charset=utf-8", "from './client.js'"},
		{"/alarm-inbox.js", "text/javascript; charset=utf-8", "customElements.define('alarm-inbox'"},
		{"/demo.css", "text/css; charset=utf-8", "#alarms"},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			res := get(t, h, http.MethodGet, tc.path, nil)
			body, err := io.ReadAll(res.Body)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, want 200", res.StatusCode)
			}
			if got := res.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if got := res.Header.Get("Cache-Control"); got != "no-cache" {
				t.Errorf("Cache-Control %q, want no-cache", got)
			}
			if res.Header.Get("ETag") == "" {
				t.Error("no ETag")
			}
			if !bytes.Contains(body, []byte(tc.contains)) {
				t.Errorf("body does not contain %q", tc.contains)
			}
		})
	}
}

func TestHandlerRejects(t *testing.T) {
	h := Handler()
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/client.test.mjs", http.StatusNotFound},
		{http.MethodGet, "/package.json", http.StatusNotFound},
		{http.MethodGet, "/static/client.js", http.StatusNotFound},
		{http.MethodGet, "/nope", http.StatusNotFound},
		{http.MethodPost, "/client.js", http.StatusMethodNotAllowed},
		{http.MethodDelete, "/", http.StatusMethodNotAllowed},
	}
	for _, tc := range tests {
		t.Run(tc.method+tc.path, func(t *testing.T) {
			res := get(t, h, tc.method, tc.path, nil)
			if res.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", res.StatusCode, tc.status)
			}
			if tc.status == http.StatusMethodNotAllowed && res.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", res.Header.Get("Allow"))
			}
		})
	}
}

func TestHandlerHeadAndRevalidate(t *testing.T) {
	h := Handler()
	res := get(t, h, http.MethodHead, "/client.js", nil)
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Fatalf("HEAD: status %d, type %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	etag := res.Header.Get("ETag")
	res = get(t, h, http.MethodGet, "/client.js", http.Header{"If-None-Match": {etag}})
	if res.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match: status %d, want 304", res.StatusCode)
	}
}

func TestHandlerUnderPrefix(t *testing.T) {
	h := http.StripPrefix("/ui", Handler())
	for _, path := range []string{"/ui", "/ui/", "/ui/client.js"} {
		if res := get(t, h, http.MethodGet, path, nil); res.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d, want 200", path, res.StatusCode)
		}
	}
}

func TestClientJSMatchesServed(t *testing.T) {
	for path, read := range map[string]func() []byte{"/client.js": ClientJS, "/alarm-inbox.js": AlarmInboxJS} {
		res := get(t, Handler(), http.MethodGet, path, nil)
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		js := read()
		if !bytes.Equal(body, js) {
			t.Fatalf("the module differs from %s", path)
		}
		js[0] ^= 0xff // callers own their copy
		if bytes.Equal(read(), js) {
			t.Fatalf("%s: returned shared memory", path)
		}
	}
}

// TestDemoElementsExist checks that every element demo.js looks up, and every
// id a browser test reads, exists in index.html.
func TestDemoElementsExist(t *testing.T) {
	html := string(mustRead("index.html"))
	ids := []string{"state", "node", "epoch", "last-id", "alarms", "stale-banner", "publish-result"}
	for _, m := range regexp.MustCompile(`\$\('#([\w-]+)'\)`).FindAllStringSubmatch(string(mustRead("demo.js")), -1) {
		ids = append(ids, m[1])
	}
	if len(ids) < 20 {
		t.Fatalf("found only %d ids; did the lookup style in demo.js change?", len(ids))
	}
	for _, id := range ids {
		if !strings.Contains(html, `id="`+id+`"`) {
			t.Errorf("index.html has no element with id %q", id)
		}
	}
}

// nodeBin finds Node.js; the JS tests are part of this package's contract, so
// a missing node is a failure, not a skip.
func nodeBin(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node (Node.js 20 or newer) is required to test web/static/*.js but is not on PATH: %v", err)
	}
	return bin
}

func runNode(t *testing.T, args ...string) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, nodeBin(t), args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestStaticJSSyntax checks that the served modules parse as ES modules.
func TestStaticJSSyntax(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"client.js", "demo.js", "alarm-inbox.js"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, strings.TrimSuffix(name, ".js")+".mjs")
			if err := os.WriteFile(path, mustRead(name), 0o600); err != nil {
				t.Fatal(err)
			}
			runNode(t, "--check", path)
		})
	}
}

// TestClientJSUnit runs the client's unit tests with node's test runner.
func TestClientJSUnit(t *testing.T) {
	runNode(t, "--test", filepath.Join("static", "client.test.mjs"))
}

func ExampleHandler() {
	srv := httptest.NewServer(http.StripPrefix("/ui", Handler()))
	defer srv.Close()
	res, err := http.Get(srv.URL + "/ui/client.js")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	// Output: 200 text/javascript; charset=utf-8
}

func ExampleClientJS() {
	js := ClientJS()
	fmt.Println(bytes.Contains(js, []byte("export class AlarmClient")))
	// Output: true
}

func TestClientJSAllowsCrossOriginImport(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for path, want := range map[string]string{"/client.js": "*", "/alarm-inbox.js": "*", "/": "", "/demo.js": ""} {
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("%s: Access-Control-Allow-Origin %q, want %q", path, got, want)
		}
	}
}

package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// asset is one served file, read once when the handler is built.
type asset struct {
	name  string // file name under static/, also used by http.ServeContent
	ctype string
	body  []byte
	etag  string
}

// routes maps request paths to the files under static/ that Handler serves.
// Everything else embedded (tests, package.json) stays private.
var routes = map[string]string{
	"/":            "index.html",
	"/index.html":  "index.html",
	"/client.js":   "client.js",
	"/client.d.ts": "client.d.ts",
	// The <alarm-inbox> element, next to the client it works with.
	"/alarm-inbox.js": "alarm-inbox.js",
	"/demo.js":        "demo.js",
	"/demo.css":       "demo.css",
}

// publicModules are the paths any origin may import.
var publicModules = map[string]bool{"/client.js": true, "/alarm-inbox.js": true}

var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".ts":   "application/typescript; charset=utf-8",
}

// Handler serves the JavaScript client at /client.js (its types at
// /client.d.ts), the <alarm-inbox> element at /alarm-inbox.js and the demo
// page at / (also /index.html, /demo.js, /demo.css) for GET and HEAD, with
// Cache-Control: no-cache and an ETag so browsers revalidate cheaply;
// /client.js and /alarm-inbox.js also carry Access-Control-Allow-Origin: *
// so pages on other origins can import them as modules. Mount
// it at a path ending in "/" (with http.StripPrefix) so the page's relative
// links resolve. The page itself calls /demo/config, /v1/alarms and /v1/ws
// on its origin.
func Handler() http.Handler {
	assets := make(map[string]asset, len(routes))
	for path, name := range routes {
		body := mustRead(name)
		sum := sha256.Sum256(body)
		ext := name[strings.LastIndexByte(name, '.'):]
		assets[path] = asset{
			name:  name,
			ctype: contentTypes[ext],
			body:  body,
			etag:  `"` + hex.EncodeToString(sum[:8]) + `"`,
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if path == "" {
			path = "/"
		}
		a, ok := assets[path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("ETag", a.etag)
		if publicModules[path] {
			// A public, credential-free module: any page may import it.
			h.Set("Access-Control-Allow-Origin", "*")
		}
		http.ServeContent(w, r, a.name, time.Time{}, bytes.NewReader(a.body))
	})
}

// ClientJS returns the JavaScript client module (static/client.js), for
// callers that want to serve or bundle it themselves. The slice is a copy.
func ClientJS() []byte {
	return mustRead("client.js")
}

// AlarmInboxJS returns the <alarm-inbox> element module
// (static/alarm-inbox.js), for callers that serve or bundle it themselves.
// The slice is a copy.
func AlarmInboxJS() []byte {
	return mustRead("alarm-inbox.js")
}

// mustRead reads an embedded file; they are fixed at build time, so a
// missing one is a programming error.
func mustRead(name string) []byte {
	b, err := static.ReadFile("static/" + name)
	if err != nil {
		panic("web: embedded file missing: " + err.Error())
	}
	return b
}

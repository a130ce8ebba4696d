package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestNew(t *testing.T) {
	store := newFakeStore()
	keys := mustKeys(t)
	tests := []struct {
		name  string
		cfg   Config
		store Store
		ok    bool
	}{
		{"defaults", Config{}, store, true},
		{"nil store", Config{}, nil, false},
		{"negative body", Config{MaxBodyBytes: -1}, store, false},
		{"negative batch", Config{MaxBatch: -1}, store, false},
		{"negative timeout", Config{Timeout: -1}, store, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := New(tt.cfg, tt.store, keys, nil, nil)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err == nil && (a.cfg.MaxBodyBytes != 68<<10 || a.cfg.MaxBatchBytes != 8<<20 ||
				a.cfg.MaxBatch != 1000 || a.cfg.Timeout.Seconds() != 5) {
				t.Fatalf("defaults not applied: %+v", a.cfg)
			}
		})
	}
	if _, err := New(Config{}, store, nil, nil, nil); err == nil {
		t.Fatal("nil keys accepted")
	}
}

func TestPublishErrors(t *testing.T) {
	valid := alarmBody("user:42", "order.shipped", `{"n":1}`)
	tests := []struct {
		name     string
		rq       req
		storeErr error
		status   int
		code     protocol.ErrorCode
	}{
		{"no auth", req{auth: "-", body: valid}, nil, 401, protocol.CodeUnauthorized},
		{"wrong key", req{auth: "Bearer nope", body: valid}, nil, 401, protocol.CodeUnauthorized},
		{"basic scheme", req{auth: "Basic " + testKey, body: valid}, nil, 401, protocol.CodeUnauthorized},
		{"no auth, not json", req{auth: "-", contentType: "text/plain", body: "x"}, nil, 401, protocol.CodeUnauthorized},
		{"no content type", req{contentType: "-", body: valid}, nil, 415, protocol.CodeUnsupportedMediaType},
		{"text/plain", req{contentType: "text/plain", body: valid}, nil, 415, protocol.CodeUnsupportedMediaType},
		{"json suffix", req{contentType: "application/problem+json", body: valid}, nil, 415, protocol.CodeUnsupportedMediaType},
		{"bad media type", req{contentType: "application/json; =", body: valid}, nil, 415, protocol.CodeUnsupportedMediaType},
		{"empty body", req{body: ""}, nil, 400, protocol.CodeInvalidJSON},
		{"malformed", req{body: `{"channel":`}, nil, 400, protocol.CodeInvalidJSON},
		{"syntax error", req{body: `{"channel" "a"}`}, nil, 400, protocol.CodeInvalidJSON},
		{"array", req{body: `[` + valid + `]`}, nil, 400, protocol.CodeInvalidJSON},
		{"null", req{body: `null`}, nil, 400, protocol.CodeInvalidJSON},
		{"string", req{body: `"x"`}, nil, 400, protocol.CodeInvalidJSON},
		{"two objects", req{body: valid + valid}, nil, 400, protocol.CodeInvalidJSON},
		{"trailing garbage", req{body: valid + " x"}, nil, 400, protocol.CodeInvalidJSON},
		{"trailing bracket", req{body: valid + "]"}, nil, 400, protocol.CodeInvalidJSON},
		{"unknown field", req{body: `{"channel":"a","event":"e","extra":1}`}, nil, 400, protocol.CodeUnknownField},
		{"idempotency_key in body", req{body: `{"channel":"a","event":"e","idempotency_key":"k"}`},
			nil, 400, protocol.CodeUnknownField},
		{"missing channel", req{body: `{"event":"e"}`}, nil, 400, protocol.CodeMissingField},
		{"null channel", req{body: `{"channel":null,"event":"e"}`}, nil, 400, protocol.CodeMissingField},
		{"missing event", req{body: `{"channel":"a"}`}, nil, 400, protocol.CodeMissingField},
		{"invalid channel", req{body: alarmBody("a b", "e", "")}, nil, 400, protocol.CodeInvalidChannel},
		{"empty channel", req{body: alarmBody("", "e", "")}, nil, 400, protocol.CodeInvalidChannel},
		{"channel number", req{body: `{"channel":42,"event":"e"}`}, nil, 400, protocol.CodeInvalidChannel},
		{"invalid event", req{body: alarmBody("a", "", "")}, nil, 400, protocol.CodeInvalidEvent},
		{"event too long", req{body: alarmBody("a", strings.Repeat("é", 129), "")}, nil, 400, protocol.CodeInvalidEvent},
		{"event object", req{body: `{"channel":"a","event":{}}`}, nil, 400, protocol.CodeInvalidEvent},
		{"idem key too long", req{body: valid, headers: map[string]string{
			"Idempotency-Key": strings.Repeat("k", 129)}}, nil, 400, protocol.CodeInvalidIdempotencyKey},
		{"idem key not ascii", req{body: valid, headers: map[string]string{
			"Idempotency-Key": "clé"}}, nil, 400, protocol.CodeInvalidIdempotencyKey},
		{"idem key empty", req{body: valid, headers: map[string]string{"Idempotency-Key": ""}},
			nil, 400, protocol.CodeInvalidIdempotencyKey},
		{"store invalid data", req{body: valid}, alarm.ErrInvalidData, 400, protocol.CodeInvalidData},
		{"store invalid channel", req{body: valid}, alarm.ErrInvalidChannel, 400, protocol.CodeInvalidChannel},
		{"body over limit", req{body: alarmBody("a", "e", `"`+strings.Repeat("x", 500)+`"`)},
			nil, 413, protocol.CodeTooLarge},
		{"chunked body over limit", req{chunked: true, body: alarmBody("a", "e", `"`+strings.Repeat("x", 500)+`"`)},
			nil, 413, protocol.CodeTooLarge},
		{"store too large", req{body: valid}, fmt.Errorf("stream: publish: %w", stream.ErrTooLarge), 413, protocol.CodeTooLarge},
		{"store unavailable", req{body: valid}, fmt.Errorf("x: %w", stream.ErrUnavailable), 503, protocol.CodeUnavailable},
		{"store internal", req{body: valid}, errors.New("boom"), 500, protocol.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{MaxBodyBytes: 400})
			e.store.publishErr = func(stream.PublishInput) error { return tt.storeErr }
			tt.rq.method, tt.rq.path = http.MethodPost, "/v1/alarms"
			w := e.do(t, tt.rq)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if code := errorCode(t, w); code != tt.code {
				t.Fatalf("code = %q, want %q", code, tt.code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
			if ra := w.Header().Get("Retry-After"); (ra == "1") != (tt.status == 503) {
				t.Errorf("Retry-After = %q for %d", ra, tt.status)
			}
			if tt.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if n := len(e.store.publishedInputs()); n != 0 {
				t.Errorf("%d alarms published", n)
			}
			if got := testutil.CounterValue(t, e.m.HTTPRequests.WithLabelValues(RoutePublish, fmt.Sprint(tt.status))); got != 1 {
				t.Errorf("http requests metric = %v", got)
			}
			logs := e.logs.String()
			if n := strings.Count(logs, "\n"); (tt.status >= 500 && n != 1) || (tt.status < 500 && n != 0) {
				t.Errorf("status %d logged %d lines: %s", tt.status, n, logs)
			}
			if strings.Contains(logs, testKey) {
				t.Error("the API key was logged")
			}
		})
	}
}

func TestUnauthorizedDoesNotReadBody(t *testing.T) {
	e := newEnv(t, Config{})
	for _, path := range []string{"/v1/alarms", "/v1/alarms/batch"} {
		r := httptest.NewRequest(http.MethodPost, path, errReader{t})
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer wrong-key")
		w := httptest.NewRecorder()
		e.mux.ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Fatalf("%s: status = %d", path, w.Code)
		}
	}
}

func TestPublishCreated(t *testing.T) {
	tests := []struct {
		name        string
		body        string
		contentType string
		wantData    string
	}{
		{"object data", alarmBody("user:42", "order.shipped", `{"n": 1}`), "", `{"n": 1}`},
		{"absent data", alarmBody("user:42", "e", ""), "", "null"},
		{"null data", alarmBody("user:42", "e", "null"), "", "null"},
		{"scalar data", alarmBody("user:42", "e", "7"), "", "7"},
		{"charset", alarmBody("user:42", "e", `"x"`), "application/json; charset=utf-8", `"x"`},
		{"upper case type", alarmBody("user:42", "e", `[]`), "Application/JSON", `[]`},
		{"whitespace around", " \n" + alarmBody("user:42", "e", "true") + "\n\t ", "", "true"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms", body: tt.body, contentType: tt.contentType})
			if w.Code != http.StatusCreated {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			if got, want := w.Body.String(), `{"id":"1-0","channel":"user:42","epoch":"ep1"}`+"\n"; got != want {
				t.Fatalf("body = %q, want %q", got, want)
			}
			if w.Header().Get("Idempotent-Replayed") != "" {
				t.Error("Idempotent-Replayed on a new alarm")
			}
			pub := e.store.publishedInputs()
			if len(pub) != 1 || string(pub[0].Data) != tt.wantData || pub[0].IdempotencyKey != "" {
				t.Fatalf("published %+v, want data %s", pub, tt.wantData)
			}
			if got := testutil.CounterValue(t, e.m.Published.WithLabelValues(resultCreated)); got != 1 {
				t.Errorf("published{created} = %v", got)
			}
		})
	}
}

func TestPublishIdempotentReplay(t *testing.T) {
	e := newEnv(t, Config{})
	rq := req{method: http.MethodPost, path: "/v1/alarms", body: alarmBody("user:42", "e", `{}`),
		headers: map[string]string{"Idempotency-Key": "order-7 shipped"}}
	first := e.do(t, rq)
	if first.Code != http.StatusCreated {
		t.Fatalf("first: status = %d; body %s", first.Code, first.Body)
	}
	second := e.do(t, rq)
	if second.Code != http.StatusOK {
		t.Fatalf("second: status = %d; body %s", second.Code, second.Body)
	}
	if got := second.Header().Get("Idempotent-Replayed"); got != "true" {
		t.Fatalf("Idempotent-Replayed = %q", got)
	}
	if first.Body.String() != second.Body.String() {
		t.Fatalf("replay body %s differs from %s", second.Body, first.Body)
	}
	if pub := e.store.publishedInputs(); len(pub) != 1 || pub[0].IdempotencyKey != "order-7 shipped" {
		t.Fatalf("published %+v", pub)
	}
	if got := testutil.CounterValue(t, e.m.Published.WithLabelValues(resultReplayed)); got != 1 {
		t.Errorf("published{replayed} = %v", got)
	}
	if got := testutil.CounterValue(t, e.m.HTTPRequests.WithLabelValues(RoutePublish, "200")); got != 1 {
		t.Errorf("http{200} = %v", got)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do(t, req{method: http.MethodPut, path: "/v1/alarms", body: "{}"})
	if w.Code != http.StatusMethodNotAllowed {
		t.Fatalf("status = %d", w.Code)
	}
}

// TestPublishOverHTTP runs a publish through a real server and client.
func TestPublishOverHTTP(t *testing.T) {
	e := newEnv(t, Config{})
	srv := httptest.NewServer(e.mux)
	t.Cleanup(srv.Close)
	r, err := http.NewRequest(http.MethodPost, srv.URL+"/v1/alarms",
		strings.NewReader(alarmBody("broadcast", "deploy", `{"v":"1.2"}`)))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Authorization", "Bearer "+testKey)
	r.Header.Set("Content-Type", "application/json")
	resp, err := srv.Client().Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got publishedBody
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusCreated || got.ID != "1-0" || got.Channel != "broadcast" || got.Epoch != testEpoch {
		t.Fatalf("status %d, body %+v", resp.StatusCode, got)
	}
	srv.Client().CloseIdleConnections()
}

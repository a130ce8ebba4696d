package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

const (
	testKey   = "test-publish-key-0123456789"
	testEpoch = "ep1"
)

// fakeStore is an in-memory Store. By default it accepts every alarm,
// assigning ids 1-0, 2-0, ..., and replays known idempotency keys; the
// hooks override that.
type fakeStore struct {
	mu        sync.Mutex // guards every field below
	next      uint64
	idem      map[string]stream.PublishResult
	published []stream.PublishInput
	batches   int
	histArgs  []any

	publishErr func(in stream.PublishInput) error // per-alarm failure, nil = accept
	listAlarms func(channel string, after protocol.ID, limit int) (stream.Listing, error)
	shortBatch bool // PublishBatch drops its last result
}

func newFakeStore() *fakeStore {
	return &fakeStore{idem: map[string]stream.PublishResult{}}
}

func (f *fakeStore) Publish(_ context.Context, in stream.PublishInput) (stream.PublishResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.publishLocked(in)
}

func (f *fakeStore) publishLocked(in stream.PublishInput) (stream.PublishResult, error) {
	if f.publishErr != nil {
		if err := f.publishErr(in); err != nil {
			return stream.PublishResult{}, err
		}
	}
	if res, ok := f.idem[in.IdempotencyKey]; ok && in.IdempotencyKey != "" {
		res.Replayed = true
		return res, nil
	}
	f.next++
	res := stream.PublishResult{ID: protocol.ID{MS: f.next}, Channel: in.Channel, Epoch: testEpoch}
	if in.IdempotencyKey != "" {
		f.idem[in.IdempotencyKey] = res
	}
	f.published = append(f.published, in)
	return res, nil
}

func (f *fakeStore) PublishBatch(_ context.Context, ins []stream.PublishInput) ([]stream.PublishResult, []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches++
	res := make([]stream.PublishResult, len(ins))
	errs := make([]error, len(ins))
	for i, in := range ins {
		res[i], errs[i] = f.publishLocked(in)
	}
	if f.shortBatch {
		return res[:len(res)-1], errs[:len(errs)-1]
	}
	return res, errs
}

func (f *fakeStore) ListAlarms(_ context.Context, channel string, after protocol.ID, limit int) (stream.Listing, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.histArgs = []any{channel, after, limit}
	if f.listAlarms != nil {
		return f.listAlarms(channel, after, limit)
	}
	return stream.Listing{Epoch: testEpoch, Complete: true}, nil
}

func (f *fakeStore) publishedInputs() []stream.PublishInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]stream.PublishInput(nil), f.published...)
}

// env is an API under test with its fake store, metrics and log.
type env struct {
	store *fakeStore
	m     *metrics.Metrics
	logs  *syncBuffer
	mux   *http.ServeMux
}

type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	keys, err := auth.NewKeys([]string{"other-key-0123456789", testKey})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{store: newFakeStore(), m: metrics.New(nil), logs: &syncBuffer{}, mux: http.NewServeMux()}
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a, err := New(cfg, e.store, keys, e.m, log)
	if err != nil {
		t.Fatal(err)
	}
	a.Register(e.mux)
	return e
}

// req describes one request; zero fields take sensible defaults (the test
// key, application/json).
type req struct {
	method, path string
	body         string
	auth         string // Authorization header; "" = Bearer testKey, "-" = none
	contentType  string // "" = application/json, "-" = none
	headers      map[string]string
	chunked      bool // send without Content-Length
}

func (e *env) do(t *testing.T, rq req) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(rq.method, rq.path, strings.NewReader(rq.body))
	switch rq.auth {
	case "":
		r.Header.Set("Authorization", "Bearer "+testKey)
	case "-":
	default:
		r.Header.Set("Authorization", rq.auth)
	}
	switch rq.contentType {
	case "":
		r.Header.Set("Content-Type", "application/json")
	case "-":
	default:
		r.Header.Set("Content-Type", rq.contentType)
	}
	for k, v := range rq.headers {
		r.Header.Set(k, v)
	}
	if rq.chunked {
		r.ContentLength = -1
	}
	w := httptest.NewRecorder()
	e.mux.ServeHTTP(w, r)
	return w
}

// errorCode decodes an error answer and returns its code.
func errorCode(t *testing.T, w *httptest.ResponseRecorder) protocol.ErrorCode {
	t.Helper()
	var body struct {
		Error struct {
			Code    protocol.ErrorCode `json:"code"`
			Message string             `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("error body %q: %v", w.Body.String(), err)
	}
	if body.Error.Message == "" {
		t.Errorf("error %q has no message", body.Error.Code)
	}
	return body.Error.Code
}

// errReader fails the test if the body is read.
type errReader struct{ t *testing.T }

func (r errReader) Read([]byte) (int, error) {
	r.t.Error("body was read")
	return 0, io.EOF
}

func alarmBody(channel, event, data string) string {
	if data == "" {
		return fmt.Sprintf(`{"channel":%q,"event":%q}`, channel, event)
	}
	return fmt.Sprintf(`{"channel":%q,"event":%q,"data":%s}`, channel, event, data)
}

func mustKeys(t *testing.T) *auth.Keys {
	t.Helper()
	k, err := auth.NewKeys([]string{testKey})
	if err != nil {
		t.Fatal(err)
	}
	return k
}

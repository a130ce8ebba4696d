package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// batchResponse decodes a batch answer into one map per result.
func batchResponse(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var resp struct {
		Results []map[string]any `json:"results"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatalf("batch answer %q: %v", body, err)
	}
	return resp.Results
}

func TestBatchOrderAndItemErrors(t *testing.T) {
	e := newEnv(t, Config{})
	e.store.publishErr = func(in stream.PublishInput) error {
		switch in.Event {
		case "down":
			return fmt.Errorf("x: %w", stream.ErrUnavailable)
		case "big":
			return stream.ErrTooLarge
		case "boom":
			return errors.New("boom")
		}
		return nil
	}
	items := []string{
		alarmBody("a", "one", `1`),          // 0: 1-0
		`{"channel":"a b","event":"e"}`,     // 1: invalid_channel
		alarmBody("b", "two", ""),           // 2: 2-0
		`{"channel":"a","event":"e","x":1}`, // 3: unknown_field
		`{"event":"e"}`,                     // 4: missing_field
		`null`,                              // 5: invalid_json
		`{"channel":"a","event":"e","idempotency_key":""}`,       // 6: invalid_idempotency_key
		alarmBody("a", "down", ""),                               // 7: unavailable
		`{"channel":"c","event":"three","idempotency_key":"k1"}`, // 8: 3-0
		alarmBody("a", "big", ""),                                // 9: too_large
		`{"channel":"c","event":"again","idempotency_key":"k1"}`, // 10: 3-0 replayed
		`{"channel":5,"event":"e"}`,                              // 11: invalid_channel
		alarmBody("a", "boom", ""),                               // 12: internal
		`{"channel":"a","event":""}`,                             // 13: invalid_event
	}
	body := `{"alarms":[` + strings.Join(items, ",") + `]}`
	w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: body})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	want := []string{"1-0", string(protocol.CodeInvalidChannel), "2-0", string(protocol.CodeUnknownField), string(protocol.CodeMissingField), string(protocol.CodeInvalidJSON),
		string(protocol.CodeInvalidIdempotencyKey), string(protocol.CodeUnavailable), "3-0", string(protocol.CodeTooLarge), "3-0", string(protocol.CodeInvalidChannel), string(protocol.CodeInternal),
		string(protocol.CodeInvalidEvent)}
	results := batchResponse(t, w.Body.Bytes())
	if len(results) != len(want) {
		t.Fatalf("%d results for %d items: %s", len(results), len(want), w.Body)
	}
	for i, r := range results {
		got, _ := r["id"].(string)
		if errObj, ok := r["error"].(map[string]any); ok {
			got, _ = errObj["code"].(string)
			if _, hasID := r["id"]; hasID {
				t.Errorf("result %d has both id and error", i)
			}
		}
		if got != want[i] {
			t.Errorf("result %d = %v, want %s", i, r, want[i])
		}
	}
	if results[0]["channel"] != "a" || results[0]["epoch"] != testEpoch || results[0]["replayed"] != nil {
		t.Errorf("result 0 = %v", results[0])
	}
	if results[10]["replayed"] != true {
		t.Errorf("result 10 = %v, want replayed", results[10])
	}
	if e.store.batches != 1 {
		t.Errorf("store saw %d batch calls, want 1", e.store.batches)
	}
	if got := testutil.CounterValue(t, e.m.Published.WithLabelValues(resultError)); got != 10 {
		t.Errorf("published{error} = %v, want 10", got)
	}
	logs := e.logs.String()
	if n := strings.Count(logs, "\n"); n != 1 || !strings.Contains(logs, "failed=2") {
		t.Errorf("want one log line for 2 failed items, got: %s", logs)
	}
}

func TestBatchErrors(t *testing.T) {
	one := alarmBody("a", "e", "")
	many := `{"alarms":[` + strings.Repeat(one+",", 3) + one + `]}`
	tests := []struct {
		name    string
		rq      req
		status  int
		code    protocol.ErrorCode
		limited bool // use a small MaxBatchBytes
	}{
		{name: "no auth", rq: req{auth: "-", body: `{"alarms":[` + one + `]}`}, status: 401, code: protocol.CodeUnauthorized},
		{name: "not json", rq: req{contentType: "text/plain", body: "x"}, status: 415, code: protocol.CodeUnsupportedMediaType},
		{name: "empty body", rq: req{body: ""}, status: 400, code: protocol.CodeInvalidJSON},
		{name: "malformed", rq: req{body: `{"alarms":[`}, status: 400, code: protocol.CodeInvalidJSON},
		{name: "trailing", rq: req{body: `{"alarms":[` + one + `]} {}`}, status: 400, code: protocol.CodeInvalidJSON},
		{name: "array body", rq: req{body: `[` + one + `]`}, status: 400, code: protocol.CodeInvalidJSON},
		{name: "unknown field", rq: req{body: `{"alarms":[` + one + `],"x":1}`}, status: 400, code: protocol.CodeUnknownField},
		{name: "missing alarms", rq: req{body: `{}`}, status: 400, code: protocol.CodeInvalidBatch},
		{name: "null alarms", rq: req{body: `{"alarms":null}`}, status: 400, code: protocol.CodeInvalidBatch},
		{name: "empty alarms", rq: req{body: `{"alarms":[]}`}, status: 400, code: protocol.CodeInvalidBatch},
		{name: "alarms object", rq: req{body: `{"alarms":{}}`}, status: 400, code: protocol.CodeInvalidBatch},
		{name: "too many", rq: req{body: many}, status: 400, code: protocol.CodeInvalidBatch},
		{name: "idempotency header", rq: req{body: `{"alarms":[` + one + `]}`,
			headers: map[string]string{"Idempotency-Key": "k"}}, status: 400, code: protocol.CodeInvalidIdempotencyKey},
		{name: "too large", rq: req{body: many}, status: 413, code: protocol.CodeTooLarge, limited: true},
		{name: "too large chunked", rq: req{body: many, chunked: true}, status: 413, code: protocol.CodeTooLarge, limited: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Config{MaxBatch: 3}
			if tt.limited {
				cfg.MaxBatchBytes = 64
			}
			e := newEnv(t, cfg)
			tt.rq.method, tt.rq.path = http.MethodPost, "/v1/alarms/batch"
			w := e.do(t, tt.rq)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if code := errorCode(t, w); code != tt.code {
				t.Fatalf("code = %q, want %q", code, tt.code)
			}
			if e.store.batches != 0 {
				t.Error("store called")
			}
			if got := testutil.CounterValue(t, e.m.HTTPRequests.WithLabelValues(RouteBatch, fmt.Sprint(tt.status))); got != 1 {
				t.Errorf("http requests metric = %v", got)
			}
		})
	}
}

func TestBatchAllInvalidSkipsStore(t *testing.T) {
	e := newEnv(t, Config{})
	w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: `{"alarms":[{"channel":"a"}]}`})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	if e.store.batches != 0 {
		t.Error("store called for a batch without valid items")
	}
}

func TestBatchShortStoreAnswer(t *testing.T) {
	e := newEnv(t, Config{})
	e.store.shortBatch = true
	body := `{"alarms":[` + alarmBody("a", "e", "") + "," + alarmBody("b", "e", "") + `]}`
	w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: body})
	results := batchResponse(t, w.Body.Bytes())
	if len(results) != 2 || results[0]["id"] != "1-0" {
		t.Fatalf("results = %v", results)
	}
	if errObj, _ := results[1]["error"].(map[string]any); errObj["code"] != string(protocol.CodeInternal) {
		t.Fatalf("result 1 = %v, want internal error", results[1])
	}
}

func TestBatchMaxItems(t *testing.T) {
	e := newEnv(t, Config{})
	items := make([]string, 1000)
	for i := range items {
		items[i] = alarmBody("c", fmt.Sprintf("e%d", i), "")
	}
	w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: `{"alarms":[` + strings.Join(items, ",") + `]}`})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d", w.Code)
	}
	results := batchResponse(t, w.Body.Bytes())
	for i, r := range results {
		if r["id"] != fmt.Sprintf("%d-0", i+1) {
			t.Fatalf("result %d = %v", i, r)
		}
	}
	over := `{"alarms":[` + strings.Join(items, ",") + "," + items[0] + `]}`
	w = e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: over})
	if w.Code != http.StatusBadRequest || errorCode(t, w) != protocol.CodeInvalidBatch {
		t.Fatalf("1001 items: status = %d; body %s", w.Code, w.Body)
	}
}

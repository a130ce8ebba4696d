package api

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// TestInvalidUTF8Rejected: a body that is not valid UTF-8 must never reach
// the store, because its bytes would go out in a WebSocket text frame that
// browsers refuse (issue 11, hole 1).
func TestInvalidUTF8Rejected(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"data string", "{\"channel\":\"a\",\"event\":\"e\",\"data\":\"caf\xe9\"}"},
		{"data object key", "{\"channel\":\"a\",\"event\":\"e\",\"data\":{\"\xff\":1}}"},
		{"event", "{\"channel\":\"a\",\"event\":\"caf\xe9\"}"},
		{"surrogate half", "{\"channel\":\"a\",\"event\":\"e\",\"data\":\"\xed\xa0\x80\"}"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms", body: tt.body})
			if w.Code != http.StatusBadRequest || errorCode(t, w) != protocol.CodeInvalidUTF8 {
				t.Fatalf("status %d body %s, want 400 %s", w.Code, w.Body, protocol.CodeInvalidUTF8)
			}
			if n := len(e.store.publishedInputs()); n != 0 {
				t.Fatalf("store got %d alarms", n)
			}
		})
	}
}

// TestBatchInvalidUTF8PerItem: in a batch only the bad item fails.
func TestBatchInvalidUTF8PerItem(t *testing.T) {
	e := newEnv(t, Config{})
	body := "{\"alarms\":[" + alarmBody("a", "ok", "1") +
		",{\"channel\":\"a\",\"event\":\"e\",\"data\":\"caf\xe9\"}]}"
	w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: body})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	results := batchResponse(t, w.Body.Bytes())
	if len(results) != 2 || results[0]["id"] == nil {
		t.Fatalf("results %v", results)
	}
	errObj, _ := results[1]["error"].(map[string]any)
	if errObj["code"] != string(protocol.CodeInvalidUTF8) {
		t.Fatalf("item 1 = %v, want %s", results[1], protocol.CodeInvalidUTF8)
	}
	if ins := e.store.publishedInputs(); len(ins) != 1 || ins[0].Event != "ok" {
		t.Fatalf("store got %+v", ins)
	}
}

// TestStrictFieldNames: encoding/json matches names case-insensitively and
// lets a duplicate win; the API refuses both (issue 11, hole 3).
func TestStrictFieldNames(t *testing.T) {
	tests := []struct {
		name, path, body string
		code             protocol.ErrorCode
	}{
		{"case shadows channel", "/v1/alarms", `{"channel":"c1","Channel":"user:alice","event":"e"}`, protocol.CodeUnknownField},
		{"case only", "/v1/alarms", `{"CHANNEL":"user:alice","event":"e"}`, protocol.CodeUnknownField},
		{"duplicate channel", "/v1/alarms", `{"channel":"c1","event":"e","channel":"user:alice"}`, protocol.CodeDuplicateField},
		{"escaped duplicate", "/v1/alarms", `{"channel":"c1","event":"e","\u0063hannel":"user:alice"}`, protocol.CodeDuplicateField},
		{"duplicate data", "/v1/alarms", `{"channel":"c1","event":"e","data":1,"data":2}`, protocol.CodeDuplicateField},
		{"batch envelope case", "/v1/alarms/batch", `{"Alarms":[{"channel":"a","event":"e"}]}`, protocol.CodeUnknownField},
		{"batch envelope duplicate", "/v1/alarms/batch", `{"alarms":[],"alarms":[{"channel":"a","event":"e"}]}`, protocol.CodeDuplicateField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			w := e.do(t, req{method: http.MethodPost, path: tt.path, body: tt.body})
			if w.Code != http.StatusBadRequest || errorCode(t, w) != tt.code {
				t.Fatalf("status %d body %s, want 400 %s", w.Code, w.Body, tt.code)
			}
			if n := len(e.store.publishedInputs()); n != 0 {
				t.Fatalf("store got %d alarms", n)
			}
		})
	}
	e := newEnv(t, Config{})
	body := `{"alarms":[{"channel":"c1","Channel":"user:alice","event":"e"},{"channel":"a","event":"e","idempotency_key":"k","idempotency_key":"j"}]}`
	w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: body})
	results := batchResponse(t, w.Body.Bytes())
	for i, want := range []protocol.ErrorCode{protocol.CodeUnknownField, protocol.CodeDuplicateField} {
		errObj, _ := results[i]["error"].(map[string]any)
		if errObj["code"] != string(want) {
			t.Errorf("batch item %d = %v, want %s", i, results[i], want)
		}
	}
}

// TestPublishRateLimitPerKey: a key over its rate gets 429 with
// Retry-After; another key and reads are not affected (issue 11, limits).
func TestPublishRateLimitPerKey(t *testing.T) {
	e := newEnv(t, Config{PublishRate: 0.5, PublishBurst: 2})
	post := func(key string) *httptest.ResponseRecorder {
		return e.do(t, req{method: http.MethodPost, path: "/v1/alarms", auth: "Bearer " + key,
			body: alarmBody("a", "e", "")})
	}
	for i := range 2 {
		if w := post(testKey); w.Code != http.StatusCreated {
			t.Fatalf("publish %d within the burst: %d %s", i, w.Code, w.Body)
		}
	}
	w := post(testKey)
	if w.Code != http.StatusTooManyRequests || errorCode(t, w) != protocol.CodeRateLimited {
		t.Fatalf("over the rate: %d %s, want 429 %s", w.Code, w.Body, protocol.CodeRateLimited)
	}
	if ra := w.Header().Get("Retry-After"); ra != "2" {
		t.Errorf("Retry-After %q, want 2 (one token at 0.5/s)", ra)
	}
	if got := testutil.CounterValue(t, e.m.Limited.WithLabelValues(metrics.LimitPublishRate)); got != 1 {
		t.Errorf("limited{publish_rate} = %v, want 1", got)
	}
	if w := e.do(t, req{method: http.MethodPost, path: "/v1/alarms/batch", body: `{"alarms":[` + alarmBody("a", "e", "") + `]}`}); w.Code != http.StatusTooManyRequests {
		t.Errorf("batch over the rate: %d", w.Code)
	}
	if w := post("other-key-0123456789"); w.Code != http.StatusCreated {
		t.Errorf("another key was limited: %d %s", w.Code, w.Body)
	}
	if w := e.do(t, req{method: http.MethodGet, path: "/v1/alarms?channel=a"}); w.Code != http.StatusOK {
		t.Errorf("the listing was limited: %d", w.Code)
	}
	if w := post("wrong-key-0123456789"); w.Code != http.StatusUnauthorized {
		t.Errorf("a wrong key: %d, want 401 before any limit", w.Code)
	}
}

package api

import (
	"net/http"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// Item 3 of issue 10, against a real Redis: an Idempotency-Key reused for
// a different alarm is refused with 409 idempotency_key_reused, on the
// single and the batch endpoint; the same alarm again is a replay.
func TestIdempotencyKeyReusedRefused(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := stream.New(stream.Config{Prefix: testutil.Prefix(t)}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, Config{})
	a, err := New(Config{}, store, mustKeys(t), e.m, nil)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	e.mux = mux

	key := map[string]string{"Idempotency-Key": "order-7"}
	first := alarmBody("user:1", "shipped", `{"n":1}`)
	if w := e.do(t, req{method: "POST", path: "/v1/alarms", body: first, headers: key}); w.Code != 201 {
		t.Fatalf("first: %d %s", w.Code, w.Body)
	}
	w := e.do(t, req{method: "POST", path: "/v1/alarms", body: first, headers: key})
	if w.Code != 200 || w.Header().Get("Idempotent-Replayed") != "true" {
		t.Fatalf("same alarm again: %d %v %s", w.Code, w.Header(), w.Body)
	}
	for _, other := range []string{
		alarmBody("user:2", "shipped", `{"n":1}`),
		alarmBody("user:1", "cancelled", `{"n":1}`),
		alarmBody("user:1", "shipped", `{"n":2}`),
	} {
		w := e.do(t, req{method: "POST", path: "/v1/alarms", body: other, headers: key})
		if w.Code != http.StatusConflict || errorCode(t, w) != protocol.CodeIdempotencyKeyReused {
			t.Errorf("%s: %d %s, want 409 %s", other, w.Code, w.Body, protocol.CodeIdempotencyKeyReused)
		}
	}
	batch := `{"alarms":[
		{"channel":"user:1","event":"shipped","data":{"n":1},"idempotency_key":"order-7"},
		{"channel":"user:3","event":"shipped","data":{"n":1},"idempotency_key":"order-7"}]}`
	w = e.do(t, req{method: "POST", path: "/v1/alarms/batch", body: batch})
	res := batchResponse(t, w.Body.Bytes())
	if len(res) != 2 || res[0]["replayed"] != true || res[1]["error"] == nil ||
		res[1]["error"].(map[string]any)["code"] != string(protocol.CodeIdempotencyKeyReused) {
		t.Fatalf("batch: %d %s", w.Code, w.Body)
	}
}

package node

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/pubsub"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestCrossNodeDeliveryAndIsolation(t *testing.T) {
	prefix := testutil.Prefix(t)
	a := startNode(t, prefix, "a", nil)
	b := startNode(t, prefix, "b", nil)
	r := startRecorder(t, token(t, "1", []string{"team:x"}, time.Hour), client.Config{Endpoints: []string{b.wsURL}})
	r.waitFor(t, "welcome", func(r *recorder) bool { return len(r.welcomes) == 1 })

	var want []string
	for i := 0; i < 30; i++ {
		ch := []string{"user:1", "user:2", "team:x", "team:y", "broadcast"}[i%5]
		id := publish(t, a, ch, i)
		if ch != "user:2" && ch != "team:y" {
			want = append(want, id)
		}
	}
	r.waitFor(t, "alarms", func(r *recorder) bool { return len(r.ids) >= len(want) })
	time.Sleep(100 * time.Millisecond) // let any stray alarm arrive before checking
	got, w := r.snapshot()
	equalIDs(t, got, want)
	if w[0].Node != "b" || w[0].Status != protocol.StatusNew {
		t.Fatalf("welcome %+v", w[0])
	}
	r.mu.Lock()
	for _, ch := range r.channels {
		if ch == "user:2" || ch == "team:y" {
			t.Errorf("received alarm on %s, which the token does not grant", ch)
		}
	}
	r.mu.Unlock()
}

// startResumeNode starts a node with 8 alarms applied on user:7, their
// ids returned: the window holds ids[3:], the channel's backlog ids[2:].
// It also returns the epoch and a token for user 7.
func startResumeNode(t *testing.T) (n *testNode, ids []string, epoch, tok string) {
	t.Helper()
	n = startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.Hub.Window = 5; c.Stream.ChannelBacklog = 6 })
	for i := 0; i < 8; i++ {
		ids = append(ids, publish(t, n, "user:7", i))
	}
	if err := n.Hub().WaitApplied(context.Background(), protocol.MustParseID(ids[7])); err != nil {
		t.Fatal(err)
	}
	epoch, _ = n.Hub().State()
	return n, ids, epoch, token(t, "7", nil, time.Hour)
}

func TestResumeStatuses(t *testing.T) {
	n, ids, epoch, tok := startResumeNode(t)
	ahead := protocol.MustParseID(ids[7])
	ahead.MS += 1e6
	tests := []struct {
		name     string
		hello    map[string]any
		status   string
		replayed int
		position string
		reads    float64 // Redis reads of channel backlogs
	}{
		{"new", map[string]any{}, "new", 0, ids[7], 0},
		{"resumed", map[string]any{"last_id": ids[4], "epoch": epoch}, "resumed", 3, ids[4], 0},
		{"resumed without epoch", map[string]any{"last_id": ids[6]}, "resumed", 1, ids[6], 0},
		{"resumed at tip", map[string]any{"last_id": ids[7], "epoch": epoch}, "resumed", 0, ids[7], 0},
		{"resumed beyond the window", map[string]any{"last_id": ids[1], "epoch": epoch}, "resumed", 6, ids[1], 1},
		{"expired: the channel's backlog is trimmed", map[string]any{"last_id": ids[0], "epoch": epoch}, "expired", 0, ids[7], 1},
		{"everything retained", map[string]any{"last_id": "0-0"}, "resumed", 6, "0-0", 1},
		{"epoch changed", map[string]any{"last_id": ids[6], "epoch": "not-" + epoch}, "epoch_changed", 0, ids[7], 0},
		{"ahead of the log", map[string]any{"last_id": ahead.String(), "epoch": epoch}, "epoch_changed", 0, ids[7], 0},
		{"invalid", map[string]any{"last_id": "12-x"}, "invalid", 0, ids[7], 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hello := map[string]any{"type": "hello", "token": tok}
			for k, v := range tt.hello {
				hello[k] = v
			}
			reads := testutil.CounterValue(t, n.m.BacklogReads)
			c := rawHello(t, n, hello)
			var msgs []map[string]any
			for len(msgs) < 1+tt.replayed {
				m, err := readMessages(t, c)
				if err != nil {
					t.Fatal(err)
				}
				msgs = append(msgs, m...)
			}
			w := msgs[0]
			res := w["resume"].(map[string]any)
			if w["type"] != "welcome" || res["status"] != tt.status || int(res["replayed"].(float64)) != tt.replayed ||
				w["position"] != tt.position || w["epoch"] != epoch || w["node"] != "a" {
				t.Fatalf("welcome %v", w)
			}
			for i, m := range msgs[1:] {
				if want := ids[len(ids)-tt.replayed+i]; m["id"] != want {
					t.Fatalf("replay %d = %v, want %s", i, m["id"], want)
				}
			}
			if got := testutil.CounterValue(t, n.m.BacklogReads) - reads; got != tt.reads {
				t.Fatalf("%v backlog reads, want %v", got, tt.reads)
			}
		})
	}
}

func TestLastIDAheadCatchesUp(t *testing.T) {
	prefix := testutil.Prefix(t)
	// The node checks the stream only when asked: a slow tip interval.
	n := startNode(t, prefix, "a", func(c *Config) { c.Feed = pubsub.Config{TipInterval: time.Hour} })
	publish(t, n, "user:3", 0)
	// An alarm the node never hears of on Pub/Sub: written to the stream only.
	tail, err := alarm.EncodeTail("user:3", "test", []byte(`{"i":1}`))
	if err != nil {
		t.Fatal(err)
	}
	missed, err := n.rdb.XAdd(context.Background(), &redis.XAddArgs{
		Stream: n.Store().StreamKey(), Values: []string{"c", "user:3", "t", string(tail)}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	epoch, _ := n.Hub().State()
	r := startRecorder(t, token(t, "3", nil, time.Hour), client.Config{Endpoints: []string{n.wsURL}, LastID: missed, Epoch: epoch})
	r.waitFor(t, "welcome", func(r *recorder) bool { return len(r.welcomes) == 1 })
	_, w := r.snapshot()
	if w[0].Status != protocol.StatusResumed || w[0].Position != missed {
		t.Fatalf("welcome %+v, want resumed at %s", w[0], missed)
	}
	next := publish(t, n, "user:3", 2)
	r.waitFor(t, "live alarm", func(r *recorder) bool { return len(r.ids) == 1 })
	got, _ := r.snapshot()
	equalIDs(t, got, []string{next})
}

func TestIdempotentPublish(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	p := n.publisher()
	ctx := context.Background()
	first, err := p.Publish(ctx, "user:1", "ev", 1, "order-42")
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Publish(ctx, "user:1", "ev", 1, "order-42")
	if err != nil {
		t.Fatal(err)
	}
	if first.Replayed || !second.Replayed || first.ID != second.ID {
		t.Fatalf("first %+v second %+v", first, second)
	}
	if l := n.rdb.XLen(ctx, n.Store().StreamKey()).Val(); l != 1 {
		t.Fatalf("stream holds %d alarms, want 1", l)
	}
}

func TestHelloFailures(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.WS.HelloTimeout = 200 * time.Millisecond })
	tests := []struct {
		name string
		send func(c *websocket.Conn) error
		code websocket.StatusCode
	}{
		{"no hello", func(*websocket.Conn) error { return nil }, 4008},
		{"bad json", func(c *websocket.Conn) error {
			return c.Write(context.Background(), websocket.MessageText, []byte("{nope"))
		}, 4000},
		{"binary", func(c *websocket.Conn) error {
			return c.Write(context.Background(), websocket.MessageBinary, []byte(`{"type":"hello"}`))
		}, 4000},
		{"wrong type", func(c *websocket.Conn) error {
			return c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"subscribe","token":"x"}`))
		}, 4000},
		{"no token", func(c *websocket.Conn) error {
			return c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"hello"}`))
		}, 4001},
		{"bad token", func(c *websocket.Conn) error {
			return c.Write(context.Background(), websocket.MessageText, []byte(`{"type":"hello","token":"a.b.c"}`))
		}, 4001},
		{"other secret", func(c *websocket.Conn) error {
			return c.Write(context.Background(), websocket.MessageText,
				[]byte(`{"type":"hello","token":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x"}`))
		}, 4001},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := rawHello(t, n, nil)
			if err := tt.send(c); err != nil {
				t.Fatal(err)
			}
			_, err := readMessages(t, c)
			if code := websocket.CloseStatus(err); code != tt.code {
				t.Fatalf("close code %d (%v), want %d", code, err, tt.code)
			}
		})
	}
}

func TestTokenExpiryCloses4001(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	c := rawHello(t, n, map[string]any{"type": "hello", "token": token(t, "5", nil, 1500*time.Millisecond)})
	if _, err := readMessages(t, c); err != nil {
		t.Fatalf("welcome: %v", err)
	}
	_, err := readMessages(t, c)
	if code := websocket.CloseStatus(err); code != 4001 {
		t.Fatalf("close %d (%v), want 4001", code, err)
	}
}

func TestOpsEndpoints(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	publish(t, n, "user:1", 1)
	for path, want := range map[string]int{"/healthz": 200, "/readyz": 200, "/metrics": 200, "/client.js": 200, "/alarm-inbox.js": 200, "/": 404} {
		res, err := http.Get(n.url + path)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", path, res.StatusCode, want)
		}
	}
	body := fetch(t, n.url+"/metrics")
	for _, m := range []string{"alarmgate_published_total", "alarmgate_publish_seconds", "alarmgate_applied_total"} {
		if !strings.Contains(body, m) {
			t.Errorf("metrics lack %s", m)
		}
	}
}

func fetch(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIdleConnectionGetsPings(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.WS.PingInterval = 100 * time.Millisecond })
	c := rawHello(t, n, map[string]any{"type": "hello", "token": token(t, "p", nil, time.Hour)})
	pings := 0
	for pings < 3 {
		msgs, err := readMessages(t, c)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if m["type"] == "ping" {
				pings++
			}
		}
	}
}

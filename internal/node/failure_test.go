package node

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// killPubSub kills the Pub/Sub connections of one node (found by client
// name), leaving every other client of the shared Redis alone.
func killPubSub(t *testing.T, n *testNode) int {
	t.Helper()
	ctx := context.Background()
	list, err := n.rdb.ClientList(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	killed := 0
	for _, line := range strings.Split(list, "\n") {
		if !strings.Contains(line, " name="+n.name+" ") || !strings.Contains(line, "cmd=subscribe") && !strings.Contains(line, " sub=2 ") {
			continue
		}
		for _, f := range strings.Fields(line) {
			if id, ok := strings.CutPrefix(f, "id="); ok {
				if err := n.rdb.Do(ctx, "CLIENT", "KILL", "ID", id).Err(); err == nil {
					killed++
				}
			}
		}
	}
	return killed
}

func TestPubSubKillLosesNothing(t *testing.T) {
	prefix := testutil.Prefix(t)
	a := startNode(t, prefix, "a", nil)
	b := startNode(t, prefix, "b", nil)
	r := startRecorder(t, token(t, "9", nil, time.Hour), client.Config{Endpoints: []string{a.wsURL}})
	r.waitFor(t, "welcome", func(r *recorder) bool { return len(r.welcomes) == 1 })

	var (
		mu   sync.Mutex
		want []string
		wg   sync.WaitGroup
	)
	wg.Go(func() {
		for i := 0; i < 600; i++ {
			id := publish(t, b, "user:9", i)
			mu.Lock()
			want = append(want, id)
			mu.Unlock()
		}
	})
	kills := 0
	for i := 0; i < 8; i++ {
		time.Sleep(40 * time.Millisecond)
		kills += killPubSub(t, a)
	}
	wg.Wait()
	if kills == 0 {
		t.Fatal("found no Pub/Sub connection to kill")
	}
	r.waitFor(t, "every alarm", func(r *recorder) bool { return len(r.ids) >= len(want) })
	got, w := r.snapshot()
	equalIDs(t, got, want)
	if len(w) != 1 {
		t.Fatalf("client reconnected (%d welcomes); the test is about a connection that stays", len(w))
	}
	t.Logf("alarms=%d pubsub kills=%d lost=0", len(want), kills)
}

func TestSlowConsumerClosedThenResumes(t *testing.T) {
	prefix := testutil.Prefix(t)
	n := startNode(t, prefix, "a", func(c *Config) { c.Hub.QueueLen = 8; c.Hub.Window = 5000 })
	tok := token(t, "slow", nil, time.Hour)
	c := rawHelloOpts(t, n, map[string]any{"type": "hello", "token": tok}, smallBuffers)
	msgs, err := readMessages(t, c)
	if err != nil {
		t.Fatal(err)
	}
	epoch := msgs[0]["epoch"].(string)
	big := strings.Repeat("x", 60<<10)
	var want []string
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		res, err := n.publisher().Publish(ctx, "user:slow", "big", map[string]string{"pad": big, "i": strconv.Itoa(i)}, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.ID)
		if closedCount(n) > 0 {
			break
		}
	}
	if closedCount(n) == 0 {
		t.Fatal("client was never closed for being slow")
	}
	// Now read what the server managed to send, then the close frame.
	var got []string
	for {
		ms, err := readMessages(t, c)
		if err != nil {
			if code := websocket.CloseStatus(err); code != 4029 {
				t.Fatalf("close %d (%v), want 4029", code, err)
			}
			break
		}
		for _, m := range ms {
			if m["type"] == "alarm" {
				got = append(got, m["id"].(string))
			}
		}
	}
	last := msgs[0]["position"].(string)
	if len(got) > 0 {
		last = got[len(got)-1]
	}
	r := startRecorder(t, tok, client.Config{Endpoints: []string{n.wsURL}, LastID: last, Epoch: epoch})
	r.waitFor(t, "the rest", func(r *recorder) bool { return len(got)+len(r.ids) >= len(want) })
	rest, w := r.snapshot()
	equalIDs(t, append(got, rest...), want)
	if w[0].Status != protocol.StatusResumed {
		t.Fatalf("resume status %s", w[0].Status)
	}
}

func closedCount(n *testNode) int {
	mfs, _ := n.Metrics().Gather()
	for _, mf := range mfs {
		if mf.GetName() == "alarmgate_slow_consumer_closes_total" {
			return int(mf.GetMetric()[0].GetCounter().GetValue())
		}
	}
	return 0
}

func TestLostLogChangesEpoch(t *testing.T) {
	prefix := testutil.Prefix(t)
	a := startNode(t, prefix, "a", nil)
	b := startNode(t, prefix, "b", nil)
	r := startRecorder(t, token(t, "4", nil, time.Hour), client.Config{Endpoints: []string{a.wsURL, b.wsURL}})
	r.waitFor(t, "welcome", func(r *recorder) bool { return len(r.welcomes) == 1 })
	before := publish(t, a, "user:4", 1)
	r.waitFor(t, "first alarm", func(r *recorder) bool { return len(r.ids) == 1 })
	_, w := r.snapshot()
	oldEpoch := w[0].Epoch

	// Lose the log of this prefix, as a flushed Redis would.
	ctx := context.Background()
	if err := a.rdb.Del(ctx, a.Store().StreamKey(), a.Store().EpochKey()).Err(); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "epoch_changed", func(r *recorder) bool {
		return len(r.welcomes) > 1 && r.welcomes[len(r.welcomes)-1].Status == protocol.StatusEpochChanged
	})
	_, w = r.snapshot()
	last := w[len(w)-1]
	if last.Epoch == oldEpoch || last.Epoch == "" {
		t.Fatalf("epoch did not change: %q -> %q", oldEpoch, last.Epoch)
	}
	after := publish(t, b, "user:4", 2)
	r.waitFor(t, "alarm in the new epoch", func(r *recorder) bool { return len(r.ids) == 2 })
	got, _ := r.snapshot()
	equalIDs(t, got, []string{before, after})
	ea, _ := a.Hub().State()
	eb, _ := b.Hub().State()
	if ea != eb || ea != last.Epoch {
		t.Fatalf("nodes disagree on the epoch: a=%s b=%s welcome=%s", ea, eb, last.Epoch)
	}
	t.Logf("epoch %s -> %s", oldEpoch, last.Epoch)
}

// A client that stops reading, with a queue too long to overflow, is cut
// by the write watchdog once a frame write has been stuck for WriteTimeout.
func TestStuckWriteIsCut(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) {
		c.Hub.QueueLen = 1 << 20
		c.WS.WriteTimeout = 200 * time.Millisecond
	})
	c := rawHelloOpts(t, n, map[string]any{"type": "hello", "token": token(t, "stuck", nil, time.Hour)}, smallBuffers)
	if _, err := readMessages(t, c); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("y", 60<<10)
	deadline := time.Now().Add(20 * time.Second)
	for n.Hub().Len() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a connection whose writes are stuck was never cut")
		}
		if _, err := n.publisher().Publish(context.Background(), "user:stuck", "big", map[string]string{"pad": big}, ""); err != nil {
			t.Fatal(err)
		}
	}
	if closedCount(n) != 0 {
		t.Fatal("the queue overflowed; this test is about the write watchdog")
	}
}

package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// partitioned sets three partitions.
func partitioned(c *Config) { c.Stream.Partitions = 3 }

// subjectsPerPartition returns n subjects of each of partitions
// partitions, by the deployment's routing.
func subjectsPerPartition(partitions, n int) [][]string {
	subs := make([][]string, partitions)
	for i := 0; slices.ContainsFunc(subs, func(s []string) bool { return len(s) < n }); i++ {
		sub := fmt.Sprintf("u%d", i)
		k, _ := stream.PartitionOf("user:"+sub, partitions)
		if len(subs[k]) < n {
			subs[k] = append(subs[k], sub)
		}
	}
	return subs
}

// TestPartitionedDelivery publishes inbox and shared alarms, singly and in
// a batch, through one node of a three-partition deployment, and checks
// that the clients of every partition on the other node receive exactly
// what their tokens grant, in order, from their own partition's log; then
// that a client resumes on the other node when its node stops.
func TestPartitionedDelivery(t *testing.T) {
	prefix := testutil.Prefix(t)
	a := startNode(t, prefix, "a", partitioned)
	b := startNode(t, prefix, "b", partitioned)
	subs := subjectsPerPartition(3, 1)
	recs := make([]*recorder, 3)
	for k, s := range subs {
		recs[k] = startRecorder(t, token(t, s[0], []string{"team:x"}, time.Hour),
			client.Config{Endpoints: []string{b.wsURL, a.wsURL}})
		recs[k].waitFor(t, "welcome", func(r *recorder) bool { return len(r.welcomes) == 1 })
	}
	// want[k] is the channels partition k's client must see, in order.
	want := make([][]string, 3)
	for i := range 12 {
		ch := []string{"user:" + subs[i%3][0], "team:x", "broadcast", "team:y"}[i%4]
		publish(t, a, ch, i)
		for k, s := range subs {
			if ch == "user:"+s[0] || ch == "team:x" || ch == "broadcast" {
				want[k] = append(want[k], ch)
			}
		}
	}
	var items []client.BatchItem
	for i := range 9 {
		ch := []string{"user:" + subs[i%3][0], "team:x", "team:y"}[i%3]
		items = append(items, client.BatchItem{Channel: ch, Event: "batch", Data: i})
		for k, s := range subs {
			if ch == "user:"+s[0] || ch == "team:x" {
				want[k] = append(want[k], ch)
			}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := a.publisher().PublishBatch(ctx, items)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err != nil {
			t.Fatalf("batch item %d: %v", i, r.Err)
		}
	}
	epochs := map[string]bool{}
	for k, r := range recs {
		r.waitFor(t, "alarms", func(r *recorder) bool { return len(r.ids) >= len(want[k]) })
		checkPartitionRecord(t, r, want[k])
		_, w := r.snapshot()
		epoch, _ := b.parts[k].hub.State()
		if w[0].Epoch != epoch {
			t.Fatalf("partition %d: welcome epoch %s, want the partition's %s", k, w[0].Epoch, epoch)
		}
		epochs[epoch] = true
	}
	if len(epochs) != 3 {
		t.Fatalf("the partitions share epochs: %v", epochs)
	}

	// Each client leaves b; an inbox alarm and a shared one are published
	// meanwhile; it resumes on a from its own partition's position.
	for k, r := range recs {
		r.close()
		ids, w := r.snapshot()
		publish(t, b, "user:"+subs[k][0], 100+k)
		publish(t, b, "team:y", 100+k)
		publish(t, b, "broadcast", 100+k)
		c := rawHello(t, a, map[string]any{"type": "hello", "token": token(t, subs[k][0], []string{"team:x"}, time.Hour),
			"last_id": ids[len(ids)-1], "epoch": w[0].Epoch})
		var got []map[string]any
		for len(got) < 3 {
			msgs, err := readMessages(t, c)
			if err != nil {
				t.Fatalf("partition %d: resume: %v after %v", k, err, got)
			}
			got = append(got, msgs...)
		}
		if got[0]["type"] != "welcome" || got[0]["node"] != "a" || got[0]["resume"].(map[string]any)["status"] != "resumed" {
			t.Fatalf("partition %d: welcome %v, want resumed on a", k, got[0])
		}
		if got[1]["channel"] != "user:"+subs[k][0] || got[2]["channel"] != "broadcast" || len(got) != 3 {
			t.Fatalf("partition %d: replay %v, want its inbox alarm then the broadcast", k, got[1:])
		}
	}
}

// checkPartitionRecord checks that r received the channels want, in
// order, with increasing ids and nothing more.
func checkPartitionRecord(t *testing.T, r *recorder, want []string) {
	t.Helper()
	time.Sleep(100 * time.Millisecond) // let any stray alarm arrive before checking
	r.mu.Lock()
	defer r.mu.Unlock()
	if !slices.Equal(r.channels, want) {
		t.Fatalf("channels %v, want %v", r.channels, want)
	}
	for i := 1; i < len(r.ids); i++ {
		if !protocol.MustParseID(r.ids[i-1]).Less(protocol.MustParseID(r.ids[i])) {
			t.Fatalf("ids not increasing at %d: %v", i, r.ids)
		}
	}
}

// TestPartitionedTokenOfAnotherInbox refuses, with several partitions, a
// token that grants another subject's inbox, and serves it with one.
func TestPartitionedTokenOfAnotherInbox(t *testing.T) {
	tok := token(t, "alice", []string{"user:bob"}, time.Hour)
	for _, tt := range []struct {
		name string
		tune func(*Config)
		code websocket.StatusCode
	}{
		{"three partitions", partitioned, websocket.StatusCode(protocol.CloseAuth)},
		{"one partition", nil, -1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			n := startNode(t, testutil.Prefix(t), "a", tt.tune)
			c := rawHello(t, n, map[string]any{"type": "hello", "token": tok})
			msgs, err := readMessages(t, c)
			if code := websocket.CloseStatus(err); code != tt.code {
				t.Fatalf("close %d (%v), want %d; messages %v", code, err, tt.code, msgs)
			}
			if tt.code == -1 && (len(msgs) == 0 || msgs[0]["type"] != "welcome") {
				t.Fatalf("messages %v, want a welcome", msgs)
			}
		})
	}
}

// TestLayoutRefusal starts a one-partition node on a three-partition
// deployment: it never becomes ready and Serve returns stream.ErrLayout.
func TestLayoutRefusal(t *testing.T) {
	prefix := testutil.Prefix(t)
	startNode(t, prefix, "a", partitioned)
	rdb := realRedis(t, "layout")
	cfg := testConfig(prefix, "b")
	cfg.Ingest = &ingest.Config{}
	n, ln := newListening(t, cfg, rdb)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err := n.Serve(ctx, ln)
	if !errors.Is(err, stream.ErrLayout) {
		t.Fatalf("Serve: %v, want ErrLayout", err)
	}
	if n.ReadyDetail().Layout {
		t.Fatal("layout marked the node's")
	}
	// It wrote nothing of its own layout (no epoch, no ingest stream).
	keys, err := rdb.Keys(context.Background(), "{"+prefix+"}:*").Result()
	if err != nil || !slices.Equal(keys, []string{"{" + prefix + "}:layout"}) {
		t.Fatalf("one-partition keys %v (%v), want the layout key only", keys, err)
	}
}

// TestPartitionedSSE serves an SSE stream from its subject's partition
// (welcome epoch and alarm ids of that partition's log), and refuses a
// ticket of a token that grants another subject's inbox with a 4001
// close event.
func TestPartitionedSSE(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", partitioned)
	subs := subjectsPerPartition(3, 1)
	for k, s := range subs {
		st := openSSE(t, n, ticket(t, n, token(t, s[0], nil, time.Hour)), "")
		e, _ := st.next(t)
		w := decodeData(t, e)
		epoch, _ := n.parts[k].hub.State()
		if e.Event != "welcome" || w.Epoch != epoch {
			t.Fatalf("partition %d: first event %+v, want a welcome with epoch %s", k, e, epoch)
		}
		id := publish(t, n, "user:"+s[0], k)
		publish(t, n, "broadcast", k)
		e, _ = st.next(t)
		if a := decodeData(t, e); a.ID != id {
			t.Fatalf("partition %d: alarm %+v, want id %s", k, a, id)
		}
		e, _ = st.next(t)
		if a := decodeData(t, e); a.Channel != "broadcast" {
			t.Fatalf("partition %d: alarm %+v, want the broadcast", k, a)
		}
	}
	st := openSSE(t, n, ticket(t, n, token(t, "alice", []string{"user:bob"}, time.Hour)), "")
	e, _ := st.next(t)
	if c := decodeData(t, e); e.Event != "close" || c.Code != protocol.CloseAuth {
		t.Fatalf("event %+v, want a 4001 close", e)
	}
}

// TestPartitionedIngest runs two nodes consuming the ingest streams of a
// three-partition deployment: the three leases are held at once, and an
// entry reaches its channel's partition (a shared one every partition)
// whichever stream it was put in.
func TestPartitionedIngest(t *testing.T) {
	prefix := testutil.Prefix(t)
	tune := func(c *Config) {
		partitioned(c)
		c.Ingest = &ingest.Config{Block: 100 * time.Millisecond}
	}
	a := startNode(t, prefix, "a", tune)
	startNode(t, prefix, "b", tune)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	subs := subjectsPerPartition(3, 1)
	stores := a.Stores()
	for k, s := range stores {
		// Each stream gets an entry for the next partition's user, and one
		// for broadcast.
		for _, ch := range []string{"user:" + subs[(k+1)%3][0], "broadcast"} {
			err := a.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.IngestKeys().Stream,
				Values: []any{"channel", ch, "event", "e"}}).Err()
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, s := range stores {
		testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("partition %d's log", k), func() bool {
			return a.rdb.XLen(ctx, s.StreamKey()).Val() == 4 // its user's entry and three broadcasts
		})
		if holder := a.rdb.Get(ctx, s.IngestKeys().Lease).Val(); holder == "" {
			t.Fatalf("partition %d: no lease held", k)
		}
	}
}

package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// TestIngestHandsOverOnShutdown: with two nodes consuming the ingest
// stream, an appended entry is published; when the consuming node shuts
// down it releases the lease and the other node takes over at once, well
// before the lease would have expired.
func TestIngestHandsOverOnShutdown(t *testing.T) {
	prefix := testutil.Prefix(t)
	tune := func(c *Config) { c.Ingest = &ingest.Config{Block: 100 * time.Millisecond} }
	nodes := []*testNode{startNode(t, prefix, "a", tune), startNode(t, prefix, "b", tune)}
	rdb := nodes[0].rdb
	keys := nodes[0].Store().IngestKeys()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t.Cleanup(func() {
		if ks, err := rdb.Keys(context.Background(), "{"+prefix+"}:*").Result(); err == nil && len(ks) > 0 {
			_ = rdb.Del(context.Background(), ks...).Err()
		}
	})
	add := func(event string) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: keys.Stream, Values: []any{"channel", "user:1", "event", event}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	waitLog := func(n int64, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			got, _ := rdb.XLen(ctx, nodes[0].Store().StreamKey()).Result()
			if got == n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("log holds %d alarms after %v, want %d", got, limit, n)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	add("first")
	waitLog(1, 5*time.Second)
	holder, err := rdb.Get(ctx, keys.Lease).Result()
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	if strings.HasPrefix(holder, "b:") {
		i = 1
	}
	if err := nodes[i].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	add("second")
	waitLog(2, 3*time.Second) // the lease lives 10s: only a release explains this
}

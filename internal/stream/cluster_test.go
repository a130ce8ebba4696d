package stream

import (
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// startClusterRedis runs a one-node Redis Cluster (all slots) on a free
// port in a temp dir and returns its address. The process is killed at
// cleanup.
func startClusterRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is required for the cluster test: %v", err)
	}
	addr := closedAddr(t)
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--dir", dir,
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	rdb := redis.NewClient(&redis.Options{Addr: addr})
	defer rdb.Close()
	ctx := testCtx(t)
	waitFor(t, func() bool { return rdb.Ping(ctx).Err() == nil })
	if err := rdb.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool {
		return strings.Contains(rdb.ClusterInfo(ctx).Val(), "cluster_state:ok")
	})
	return addr
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for range 200 {
		if ok() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("condition not reached in 5s")
}

// TestCluster runs the whole API through a ClusterClient: every script
// key is declared and in one slot, pipelines route to one node.
func TestCluster(t *testing.T) {
	addr := startClusterRedis(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{PageSize: 3}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	r1, err := s.Publish(ctx, PublishInput{Channel: "a", Event: "e", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.Publish(ctx, PublishInput{Channel: "a", Event: "e", IdempotencyKey: "k"}); err != nil || !r.Replayed || r.ID != r1.ID {
		t.Fatalf("replay: %+v %v", r, err)
	}
	res, errs := s.PublishBatch(ctx, []PublishInput{{Channel: "b", Event: "e"}, {Channel: "a", Event: "e", IdempotencyKey: "k2"}})
	if err := errors.Join(errs...); err != nil || !r1.ID.Less(res[0].ID) {
		t.Fatalf("batch: %+v %v", res, err)
	}
	es, ev, tip, err := s.LoadWindow(ctx, 10)
	if err != nil || len(es) != 3 || !ev.IsZero() || tip.Newest != res[1].ID || tip.Epoch != r1.Epoch {
		t.Fatalf("LoadWindow: %v %v %+v %v", entryIDs(es), ev, tip, err)
	}
	h, err := s.History(ctx, "a", r1.ID.Prev(), 10)
	if err != nil || len(h.Alarms) != 2 || !h.Complete {
		t.Fatalf("History: %+v %v", h, err)
	}
	e, err := s.RotateEpoch(ctx, r1.Epoch)
	if err != nil || e == r1.Epoch {
		t.Fatalf("RotateEpoch: %q %v", e, err)
	}
	if got, err := s.EnsureEpoch(ctx); err != nil || got != e {
		t.Fatalf("EnsureEpoch: %q %v", got, err)
	}
	sub := s.Subscribe(ctx, "n")
	defer sub.Close()
	wantEvent(ctx, t, sub, Event{Kind: EventSubscribed})
	if err := s.Probe(ctx, "n", "p"); err != nil {
		t.Fatal(err)
	}
	wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "p"})
	// The placeholder idempotency key shares the slot of the stream key.
	slot := func(k string) int64 { return rdb.ClusterKeySlot(ctx, k).Val() }
	for _, k := range []string{s.EpochKey(), s.keys.idemNone, s.keys.idem("x"), s.keys.channel("user:1")} {
		if slot(k) != slot(s.StreamKey()) {
			t.Fatalf("key %s in slot %d, stream in %d", k, slot(k), slot(s.StreamKey()))
		}
	}
}

// TestClusterShardedPubSub: with ShardedPubSub the script broadcasts with
// SPUBLISH and the subscription uses SSUBSCRIBE; when Redis ends the
// sharded subscription (the slot leaves the node: a slot move or a
// failover), Receive reports ErrShardMoved, and once the slot is served
// again the next Receive subscribes anew (EventSubscribed), so the feed
// fills the gap.
func TestClusterShardedPubSub(t *testing.T) {
	addr := startClusterRedis(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Prefix: "shard", ShardedPubSub: true}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	sub := s.Subscribe(ctx, "n")
	defer sub.Close()
	wantEvent(ctx, t, sub, Event{Kind: EventSubscribed})
	if got := rdb.PubSubShardChannels(ctx, "*").Val(); len(got) != 2 {
		t.Fatalf("PUBSUB SHARDCHANNELS = %v, want the live and probe channels", got)
	}
	if got := rdb.PubSubChannels(ctx, "*").Val(); len(got) != 0 {
		t.Fatalf("PUBSUB CHANNELS = %v, want none", got)
	}
	r, err := s.Publish(ctx, PublishInput{Channel: "a", Event: "e"})
	if err != nil {
		t.Fatal(err)
	}
	ev := wantEvent(ctx, t, sub, Event{Kind: EventMessage})
	if !strings.Contains(ev.Payload, r.ID.String()) {
		t.Fatalf("message %q does not carry %s", ev.Payload, r.ID)
	}
	if err := s.Probe(ctx, "n", "p1"); err != nil {
		t.Fatal(err)
	}
	wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "p1"})

	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	slot := rdb.ClusterKeySlot(ctx, s.LiveChannel()).Val()
	if err := admin.Do(ctx, "CLUSTER", "DELSLOTS", slot).Err(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := sub.Receive(rctx); !errors.Is(err, ErrShardMoved) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Receive after the slot left = %v, want ErrShardMoved", err)
	}
	if err := admin.Do(ctx, "CLUSTER", "ADDSLOTS", slot).Err(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return strings.Contains(admin.ClusterInfo(ctx).Val(), "cluster_state:ok") })
	for {
		ev, err := sub.Receive(rctx)
		if err == nil && ev.Kind == EventSubscribed {
			break
		}
		if rctx.Err() != nil {
			t.Fatalf("no new subscription after the slot came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.Probe(ctx, "n", "p2"); err != nil {
		t.Fatal(err)
	}
	wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "p2"})
}

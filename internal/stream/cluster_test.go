package stream

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

// TestCluster runs the whole API through a ClusterClient: every script
// key is declared and in one slot, pipelines route to one node.
func TestCluster(t *testing.T) {
	addr := testutil.ClusterRedis(t)
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
	h, err := s.ListAlarms(ctx, "a", r1.ID.Prev(), 10)
	if err != nil || len(h.Alarms) != 2 || !h.Complete {
		t.Fatalf("ListAlarms: %+v %v", h, err)
	}
	e, err := s.RotateEpoch(ctx, r1.Epoch)
	if err != nil || e == r1.Epoch {
		t.Fatalf("RotateEpoch: %q %v", e, err)
	}
	if got, err := s.EnsureEpoch(ctx); err != nil || got != e {
		t.Fatalf("EnsureEpoch: %q %v", got, err)
	}
	// The placeholder idempotency key shares the slot of the stream key.
	slot := func(k string) int64 { return rdb.ClusterKeySlot(ctx, k).Val() }
	for _, k := range []string{s.EpochKey(), s.keys.idemNone, s.keys.idem("x"), s.keys.backlog("user:1")} {
		if slot(k) != slot(s.StreamKey()) {
			t.Fatalf("key %s in slot %d, stream in %d", k, slot(k), slot(s.StreamKey()))
		}
	}
}

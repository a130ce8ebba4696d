package stream

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
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

// TestClusterPartition: keySlot agrees with CLUSTER KEYSLOT, and a Store
// of one partition writes every key it touches (publishes, inbox state,
// idempotency, ingest) in the slot of its tag, none in the default
// {prefix}.
func TestClusterPartition(t *testing.T) {
	addr := testutil.ClusterRedis(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := testCtx(t)
	keys := []string{"foo", "", "{}", "{user1000}.following", "foo{}{bar}", "foo{{bar}}zap", "foo{bar}{zap}", "a{b", "a}b{c}", "\xff\x00{", "{alarms}:stream"}
	for p := 2; p <= 12; p++ {
		for k := range p {
			tag, err := partitionTag("alarmgate", p, k)
			if err != nil {
				t.Fatal(err)
			}
			keys = append(keys, tag+":stream", tag)
		}
	}
	for i := range 200 {
		keys = append(keys, "k"+strconv.Itoa(i*7919), "{u"+strconv.Itoa(i)+"}:x")
	}
	for _, k := range keys {
		if got, err := rdb.ClusterKeySlot(ctx, k).Result(); err != nil || int(got) != keySlot(k) {
			t.Fatalf("CLUSTER KEYSLOT %q = %d, %v; keySlot says %d", k, got, err, keySlot(k))
		}
	}

	s, err := New(Config{Prefix: "alarmgate", Partitions: 3, Partition: 2, ShardedPubSub: true}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	exercisePartition(ctx, t, s)
	slot := keySlot(s.HashTag())
	all, err := rdb.Keys(ctx, "*").Result()
	if err != nil || len(all) < 10 {
		t.Fatalf("KEYS * = %v, %v", all, err)
	}
	for _, k := range all {
		if keySlot(k) != slot {
			t.Errorf("key %q in slot %d, the partition's tag %s in %d", k, keySlot(k), s.HashTag(), slot)
		}
	}
}

// exercisePartition writes through every kind of key of s.
func exercisePartition(ctx context.Context, t *testing.T, s *Store) {
	t.Helper()
	r, err := s.Publish(ctx, PublishInput{Channel: "user:42", Event: "e", IdempotencyKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if _, errs := s.PublishBatch(ctx, []PublishInput{{Channel: "broadcast", Event: "e"}, {Channel: "user:7", Event: "e"}}); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	if _, err := s.ChangeState(ctx, "user:42", protocol.StateChange{Op: protocol.OpRead, IDs: []string{r.ID.String()}}); err != nil {
		t.Fatal(err)
	}
	if h, err := s.ListAlarms(ctx, "user:42", protocol.ID{}, 10); err != nil || len(h.Alarms) != 1 {
		t.Fatalf("ListAlarms: %+v %v", h, err)
	}
	g := s.IngestGroup("gateways", 100)
	if err := g.Create(ctx); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(ctx, IngestFields{"channel", "user:42"}); err != nil {
		t.Fatal(err)
	}
	if err := g.AddDead(ctx, IngestFields{"channel", "user:42"}); err != nil {
		t.Fatal(err)
	}
	if ok, err := g.AcquireLease(ctx, "n1:t", time.Minute); !ok || err != nil {
		t.Fatalf("AcquireLease: %v %v", ok, err)
	}
}

func TestCheckCoverage(t *testing.T) {
	addr := testutil.ClusterRedis(t)
	cluster := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = cluster.Close() })
	single := testClient(t, backends[0])
	ctx := testCtx(t)
	tests := []struct {
		name       string
		rdb        redis.UniversalClient
		partitions int
		coverage   string // CONFIG SET on the cluster first
		want       error
	}{
		{"cluster, partitions, full coverage", cluster, 3, "yes", ErrFullCoverage},
		{"cluster, partitions, partial coverage", cluster, 3, "no", nil},
		{"cluster, one partition", cluster, 1, "yes", nil},
		{"single server, partitions", single, 3, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.coverage != "" {
				if err := cluster.ConfigSet(ctx, "cluster-require-full-coverage", tt.coverage).Err(); err != nil {
					t.Fatal(err)
				}
			}
			s, err := New(Config{Prefix: testutil.Prefix(t), Partitions: tt.partitions}, tt.rdb, nil)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.CheckCoverage(ctx); !errors.Is(err, tt.want) {
				t.Fatalf("CheckCoverage: %v, want %v", err, tt.want)
			}
		})
	}
}

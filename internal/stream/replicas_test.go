package stream

import (
	"context"
	"errors"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// TestMinReplicasSentinel runs publishes with MinReplicas 1 against a real
// master, replica and sentinels (through a FailoverClient): a publish is
// accepted once the replica confirmed it, and answered ErrNotReplicated
// while the replica is frozen. It logs the latency of single publishes
// with and without the WAIT (the measurement in docs/operations.md).
func TestMinReplicasSentinel(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a master, a replica and three sentinels")
	}
	ctx := testCtx(t)
	topo, err := testproc.StartSentinel(ctx, t.TempDir())
	t.Cleanup(topo.Stop)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName: testproc.SentinelMaster, SentinelAddrs: topo.Addrs, ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	plain, err := New(Config{Prefix: "wait"}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	durable, err := New(Config{Prefix: "wait", MinReplicas: 1, ReplicaTimeout: 200 * time.Millisecond}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	for _, round := range []string{"warm-up", "measure"} {
		p0 := publishLatency(ctx, t, plain, n)
		p1 := publishLatency(ctx, t, durable, n)
		if round == "measure" {
			t.Logf("single publish, %d calls: MinReplicas 0: p50 %v p99 %v; MinReplicas 1: p50 %v p99 %v", n, p0[0], p0[1], p1[0], p1[1])
		}
	}
	res, errs := durable.PublishBatch(ctx, []PublishInput{{Channel: "a", Event: "e"}, {Channel: "b", Event: "e"}})
	if err := errors.Join(errs...); err != nil || res[0].ID.IsZero() {
		t.Fatalf("batch with a replica: %+v %v", res, err)
	}

	// What a node checks at start: the master it writes to has a replica.
	if r, err := durable.Replication(ctx); err != nil || r.Role != "master" || r.ConnectedReplicas < 1 {
		t.Fatalf("Replication through the sentinels = %+v, %v; want a master with a replica", r, err)
	}

	replica := topo.Redis[1]
	if err := replica.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = replica.Signal(syscall.SIGCONT) }()
	_, err = durable.Publish(ctx, PublishInput{Channel: "a", Event: "e", IdempotencyKey: "frozen"})
	if !errors.Is(err, ErrNotReplicated) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Publish with the replica frozen = %v, want ErrNotReplicated", err)
	}
	if err := replica.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	// The retry with the same key finds the stored alarm, now confirmed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := durable.Publish(ctx, PublishInput{Channel: "a", Event: "e", IdempotencyKey: "frozen"})
		if err == nil {
			if !r.Replayed {
				t.Fatalf("retry after the replica caught up: %+v, want the stored alarm replayed", r)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retry after SIGCONT: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// publishLatency returns the p50 and p99 of n sequential single publishes.
func publishLatency(ctx context.Context, t *testing.T, s *Store, n int) [2]time.Duration {
	t.Helper()
	ds := make([]time.Duration, n)
	for i := range ds {
		begin := time.Now()
		if _, err := s.Publish(ctx, PublishInput{Channel: "lat", Event: "e"}); err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		ds[i] = time.Since(begin)
	}
	slices.Sort(ds)
	return [2]time.Duration{ds[n/2], ds[n*99/100]}
}

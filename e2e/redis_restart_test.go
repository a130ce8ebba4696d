package e2e

import (
	"context"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestRedisRestart: Redis with AOF (appendfsync always) is SIGKILLed and
// restarted in the same directory under load: nothing is lost and the
// epoch stays. Then FLUSHALL: the history is gone, so every client is told
// (epoch_changed, never a silent gap) and alarms published afterwards
// still reach it.
func TestRedisRestart(t *testing.T) {
	h := newHarness(t, options{nodes: 3, aof: true})
	const users = 12 // 30 clients
	cs := startFleet(t, h, fleetSpec{users: users})
	pub := newLoadPublisher(h)
	pick := fleetPick(users, 200)
	dur := scaled(t, 15*time.Second, 6*time.Second)

	loadCtx, stopLoad := context.WithTimeout(h.ctx, dur)
	defer stopLoad()
	var (
		wg         sync.WaitGroup
		restarts   int
		restartErr error
	)
	wg.Go(func() {
		for {
			sleepCtx(loadCtx, 4*time.Second)
			if loadCtx.Err() != nil {
				return
			}
			h.redis.Kill()
			time.Sleep(time.Second)
			if restartErr = h.restartRedis(); restartErr != nil {
				return
			}
			restarts++
		}
	})
	issued := pub.load(loadCtx, 200, 0, 16, pick)
	wg.Wait()
	if restartErr != nil {
		t.Fatalf("restart redis: %v", restartErr)
	}
	if err := h.allReady(); err != nil {
		t.Fatal(err)
	}
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs, truth, 30*time.Second)
	epochs := pub.epochSet()
	if len(epochs) != 1 {
		t.Errorf("alarms accepted in %d epochs across Redis restarts with AOF, want 1: %v", len(epochs), epochs)
	}
	oldEpoch := slices.Collect(maps.Keys(epochs))[0]
	for _, c := range cs {
		conns, _, _ := c.rec.snapshot()
		for i, cr := range conns {
			if cr.epoch != oldEpoch {
				t.Errorf("client %s conn %d (%s): epoch %s, want the unchanged %s", c.name, i, cr.node, cr.epoch, oldEpoch)
			}
		}
	}
	summary(t, "redis-restart: alarms=%d issued=%d clients=%d redis_restarts=%d connections=%d deliveries=%d publish_retries=%d replayed=%d epochs=%d lost=%d dup=%d reordered=%d",
		len(truth), issued, len(cs), restarts, connCount(cs), s.received, pub.retries.Load(), pub.replays.Load(), len(epochs), s.lost, s.dup, s.reordered)
	if t.Failed() {
		return
	}
	flushAll(t, h, cs, pub, pick, oldEpoch)
}

// flushAll is the second half of TestRedisRestart: FLUSHALL under load.
func flushAll(t *testing.T, h *harness, cs []*recClient, pub *loadPublisher, pick pickFunc, oldEpoch string) {
	before := len(pub.truth())
	kicksBefore := closeCount(cs, 1012)
	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	err := h.rdb.FlushAll(ctx).Err()
	cancel()
	if err != nil {
		t.Fatalf("FLUSHALL: %v", err)
	}
	loadCtx, stopLoad := context.WithTimeout(h.ctx, scaled(t, 8*time.Second, 4*time.Second))
	defer stopLoad()
	issued := pub.load(loadCtx, 200, 0, 16, func(i int) (string, any) { return pick(i + before) })
	checkPublisher(t, pub)
	truth := pub.truth()
	var newEpoch string
	for e := range pub.epochSet() {
		if e != oldEpoch {
			newEpoch = e
		}
	}
	if newEpoch == "" {
		t.Fatalf("no alarm accepted in a new epoch after FLUSHALL")
	}
	s := verifyAll(t, cs, truth, 30*time.Second, "epoch_changed")
	told := 0
	for _, c := range cs {
		conns, _, _ := c.rec.snapshot()
		changed, fresh := 0, 0
		for _, cr := range conns {
			if cr.status == "epoch_changed" {
				changed++
			}
		}
		last := conns[len(conns)-1]
		for _, a := range last.alarms {
			if a.id.compare(truth[before-1].id) > 0 {
				fresh++
			}
		}
		if changed == 0 {
			t.Errorf("client %s: no epoch_changed welcome after FLUSHALL", c.name)
		}
		if last.epoch != newEpoch {
			t.Errorf("client %s: last connection (%s) in epoch %s, want the new %s", c.name, last.node, last.epoch, newEpoch)
		}
		if fresh == 0 {
			t.Errorf("client %s: no alarm after FLUSHALL reached its last connection", c.name)
		}
		told += changed
	}
	summary(t, "redis-flushall: alarms_after_flush=%d issued=%d clients=%d epoch_changed_welcomes=%d closes_1012=%d skipped_by_declared_gap=%d deliveries=%d lost=%d dup=%d reordered=%d",
		len(truth)-before, issued, len(cs), told, closeCount(cs, 1012)-kicksBefore, s.gapSkipped, s.received, s.lost, s.dup, s.reordered)
}

package e2e

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestKill9Loop: three nodes under steady load; every few seconds a random
// node is SIGKILLed and restarted on the same port. Clients that resume
// lose nothing and see nothing twice or out of order.
func TestKill9Loop(t *testing.T) {
	testKill9(t, options{nodes: 3}, 30*time.Second)
}

// TestKill9LoopPartitioned: the same with three partitions on a 3-master
// Cluster, for a shorter time; the users are spread over the partitions.
func TestKill9LoopPartitioned(t *testing.T) {
	testKill9(t, partitioned(3, clusterPartitions), 20*time.Second)
}

func testKill9(t *testing.T, opts options, length time.Duration) {
	h := newHarness(t, opts)
	const users = 22 // 55 clients
	cs := startFleet(t, h, fleetSpec{users: users})
	perPart := checkSpread(t, h.parts, fleetUsers(cs))
	pub := newLoadPublisher(h)
	dur := scaled(t, length, 5*time.Second)

	loadCtx, stopLoad := context.WithTimeout(h.ctx, dur)
	defer stopLoad()
	var (
		wg      sync.WaitGroup
		kills   int
		killErr error
	)
	wg.Go(func() { kills, killErr = h.killLoop(loadCtx, 3*time.Second) })
	issued := pub.load(loadCtx, 200, 0, 16, fleetPick(users, 200))
	wg.Wait()
	if killErr != nil {
		t.Fatalf("kill loop: %v", killErr)
	}
	if err := h.allReady(); err != nil {
		t.Fatal(err)
	}
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs, h.perPartition(truth), 30*time.Second)
	summary(t, "kill9%s: alarms=%d issued=%d clients=%d users_per_partition=%v kills=%d connections=%d deliveries=%d publish_retries=%d replayed=%d lost=%d dup=%d reordered=%d",
		h.partitionLabel(), len(truth), issued, len(cs), perPart, kills, connCount(cs), s.received, pub.retries.Load(), pub.replays.Load(), s.lost, s.dup, s.reordered)
}

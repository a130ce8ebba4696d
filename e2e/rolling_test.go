package e2e

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestRollingDeploy: the kill loop's load while every node is restarted in
// turn with SIGTERM, three rounds. Each node drains, closes its sockets
// with 1012 and exits 0 in time; clients resume and lose nothing.
func TestRollingDeploy(t *testing.T) { testRolling(t, options{nodes: 3}, 3) }

// TestRollingDeployPartitioned: the same with three partitions on a
// 3-master Cluster, two rounds; the users are spread over the partitions.
func TestRollingDeployPartitioned(t *testing.T) {
	testRolling(t, partitioned(3, clusterPartitions), 2)
}

func testRolling(t *testing.T, opts options, fullRounds int) {
	h := newHarness(t, opts)
	const users = 22
	cs := startFleet(t, h, fleetSpec{users: users})
	perPart := checkSpread(t, h.parts, fleetUsers(cs))
	pub := newLoadPublisher(h)
	rounds := scaledN(t, fullRounds, 1)

	loadCtx, stopLoad := context.WithCancel(h.ctx)
	defer stopLoad()
	var (
		wg     sync.WaitGroup
		issued int
	)
	wg.Go(func() { issued = pub.load(loadCtx, 200, 0, 16, fleetPick(users, 200)) })
	limit := drainDelay + spread + 5*time.Second
	var longest time.Duration
	restarts := 0
	for round := range rounds {
		for i, n := range h.nodes {
			time.Sleep(time.Second)
			code, took, err := n.Terminate(limit)
			if err != nil {
				t.Errorf("round %d: %v", round+1, err)
			} else if code != 0 {
				t.Errorf("round %d: %s exited %d after SIGTERM, want 0", round+1, n.Name, code)
			}
			longest = max(longest, took)
			if err := h.restartNode(i); err != nil {
				stopLoad()
				wg.Wait()
				t.Fatalf("round %d: %v", round+1, err)
			}
			restarts++
		}
	}
	time.Sleep(time.Second)
	stopLoad()
	wg.Wait()
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs, h.perPartition(truth), 30*time.Second)
	for _, c := range cs {
		// Each round restarts every node, so each client's node closes it
		// with 1012 at least once per round.
		if _, closes, _ := c.rec.snapshot(); closes[1012] < rounds {
			t.Errorf("client %s saw %d closes with 1012 in %d rounds, want at least %d (closes: %v)", c.name, closes[1012], rounds, rounds, closes)
		}
	}
	summary(t, "rolling%s: alarms=%d issued=%d clients=%d users_per_partition=%v rounds=%d restarts=%d longest_exit=%v closes_1012=%d connections=%d deliveries=%d publish_retries=%d lost=%d dup=%d reordered=%d",
		h.partitionLabel(), len(truth), issued, len(cs), perPart, rounds, restarts, longest.Round(time.Millisecond), closeCount(cs, 1012), connCount(cs), s.received, pub.retries.Load(), s.lost, s.dup, s.reordered)
}

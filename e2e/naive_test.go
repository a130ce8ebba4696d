package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// TestNaiveBaseline runs the kill loop with, for each user, one client that
// reconnects without last_id (as a plain Pub/Sub fan-out would) beside one
// that resumes. It asserts the resuming clients lose nothing and only
// measures the naive ones, for the README's comparison.
func TestNaiveBaseline(t *testing.T) {
	h := newHarness(t, options{nodes: 3})
	const users = 8
	var naive, resuming []*recClient
	for u := range users {
		sub := fmt.Sprintf("u%d", u)
		n := newRecClient(h, sub+"-naive", sub, nil)
		n.naive = true
		naive = append(naive, n)
		resuming = append(resuming, newRecClient(h, sub+"-resume", sub, nil))
	}
	startAll(t, append(append([]*recClient{}, naive...), resuming...))
	pub := newLoadPublisher(h)
	dur := scaled(t, 20*time.Second, 5*time.Second)

	loadCtx, stopLoad := context.WithTimeout(h.ctx, dur)
	defer stopLoad()
	var (
		wg      sync.WaitGroup
		kills   int
		killErr error
	)
	wg.Go(func() { kills, killErr = h.killLoop(loadCtx, 2*time.Second) })
	pub.load(loadCtx, 200, 0, 16, fleetPick(users, 100))
	wg.Wait()
	if killErr != nil {
		t.Fatalf("kill loop: %v", killErr)
	}
	if err := h.allReady(); err != nil {
		t.Fatal(err)
	}
	checkPublisher(t, pub)
	truth := pub.truth()
	good := verifyAll(t, resuming, truth, 30*time.Second)
	time.Sleep(time.Second) // the naive clients settle too
	var bad stats
	for _, c := range naive {
		conns, _, _ := c.rec.snapshot()
		s := measure(conns, c.expected(truth), false)
		t.Logf("naive client %s: %d connections, expected %d, received %d, lost %d, dup %d, reordered %d",
			c.name, len(conns), s.expected, s.received, s.lost, s.dup, s.reordered)
		bad.expected += s.expected
		bad.received += s.received
		bad.lost += s.lost
		bad.dup += s.dup
		bad.reordered += s.reordered
	}
	pct := 0.0
	if bad.expected > 0 {
		pct = 100 * float64(bad.lost) / float64(bad.expected)
	}
	summary(t, "naive: alarms=%d kills=%d naive_clients=%d naive_expected=%d naive_lost=%d (%.2f%%) naive_dup=%d resuming_clients=%d resuming_expected=%d resuming_lost=%d resuming_dup=%d",
		len(truth), kills, len(naive), bad.expected, bad.lost, pct, bad.dup, len(resuming), good.expected, good.lost, good.dup)
}

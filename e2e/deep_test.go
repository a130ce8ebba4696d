package e2e

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestResumeBeyondWindow: with a window of 50 alarms (a labelled
// non-default, so that a short test outruns it), half of the clients drop
// while load continues and a node is SIGKILLed; they come back with their
// last position after hundreds of alarms, on the surviving node. Every one
// is resumed from the channels' histories in Redis, and loses nothing and
// sees nothing twice, checked on the wire.
func TestResumeBeyondWindow(t *testing.T) {
	h := newHarness(t, options{nodes: 2, env: map[string]string{"GATEWAY_WINDOW": "50"}})
	const users = 12
	cs := startFleet(t, h, fleetSpec{users: users})
	pub := newLoadPublisher(h)
	away := cs[:len(cs)/2]

	loadCtx, stopLoad := context.WithCancel(h.ctx)
	var wg sync.WaitGroup
	wg.Go(func() { pub.load(loadCtx, 300, 0, 8, fleetPick(users, 100)) })
	time.Sleep(500 * time.Millisecond)
	for _, c := range away {
		c.stop()
	}
	h.nodes[0].Kill()
	start := len(pub.truth())
	deadline := time.Now().Add(20 * time.Second)
	for len(pub.truth())-start < scaledN(t, 400, 200) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	missed := len(pub.truth()) - start
	for _, c := range away {
		c.start(c.lastPos[0], c.lastPos[1])
	}
	for _, c := range away {
		waitWelcomes(t, c, 2)
	}
	time.Sleep(500 * time.Millisecond)
	stopLoad()
	wg.Wait()
	if err := h.restartNode(0); err != nil {
		t.Fatal(err)
	}
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs, truth, 30*time.Second)
	for _, c := range away {
		conns, _, _ := c.rec.snapshot()
		if last := conns[len(conns)-1]; last.status != "resumed" {
			t.Errorf("client %s came back with %q, want resumed", c.name, last.status)
		}
	}
	fromRedis := h.metric(`alarmgate_resume_source_total{source="redis"}`)
	if fromRedis < float64(len(away)) {
		t.Errorf("%v resumes answered from Redis, want at least %d", fromRedis, len(away))
	}
	summary(t, "beyond_window: alarms=%d missed_while_away=%d clients=%d away=%d redis_resumes=%v history_reads=%v deliveries=%d lost=%d dup=%d reordered=%d",
		len(truth), missed, len(cs), len(away), fromRedis, h.metric("alarmgate_history_reads_total"), s.received, s.lost, s.dup, s.reordered)
}

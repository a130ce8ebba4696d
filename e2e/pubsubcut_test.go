package e2e

import (
	"context"
	"sync"
	"testing"
	"time"
)

// TestPubSubCut: during a burst the nodes' Pub/Sub connections are killed
// over and over (CLIENT KILL TYPE pubsub). Clients stay connected to their
// first node the whole time (exactly one welcome each) and still receive
// everything: the nodes fill the gaps from the stream.
func TestPubSubCut(t *testing.T) {
	h := newHarness(t, options{nodes: 3})
	const users = 12 // 30 clients
	cs := startFleet(t, h, fleetSpec{users: users})
	pub := newLoadPublisher(h)
	dur := scaled(t, 15*time.Second, 4*time.Second)

	loadCtx, stopLoad := context.WithTimeout(h.ctx, dur)
	defer stopLoad()
	var (
		wg         sync.WaitGroup
		cuts       int
		killedSubs int64
		cutErr     error
	)
	wg.Go(func() {
		for loadCtx.Err() == nil {
			sleepCtx(loadCtx, 400*time.Millisecond)
			ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
			n, err := h.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
			cancel()
			if err != nil {
				cutErr = err
				return
			}
			cuts++
			killedSubs += n
		}
	})
	issued := pub.load(loadCtx, 300, 0, 16, fleetPick(users, 200))
	wg.Wait()
	if cutErr != nil {
		t.Fatalf("CLIENT KILL TYPE pubsub: %v", cutErr)
	}
	if killedSubs == 0 {
		t.Fatal("CLIENT KILL TYPE pubsub never found a subscriber to kill")
	}
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs, truth, 30*time.Second)
	for _, c := range cs {
		if conns, closes, _ := c.rec.snapshot(); len(conns) != 1 || len(closes) != 0 {
			t.Errorf("client %s: %d welcomes and closes %v, want exactly one welcome and no disconnect", c.name, len(conns), closes)
		}
	}
	summary(t, "pubsubcut: alarms=%d issued=%d clients=%d cuts=%d subscriptions_killed=%d gap_filled=%.0f deliveries=%d lost=%d dup=%d reordered=%d",
		len(truth), issued, len(cs), cuts, killedSubs, h.metric("alarmgate_gap_filled_alarms_total"), s.received, s.lost, s.dup, s.reordered)
}

// TestPubSubCutWhileStreamUnreadable: the nodes' Pub/Sub connections are
// cut while reading the stream fails for a moment (XRANGE is denied by an
// ACL rule, standing in for any transient read error, such as the dial
// error go-redis keeps returning for up to a second after Redis comes
// back). Alarms published while a node resubscribes are not in its Pub/Sub
// feed; its gap fill must get them from the stream once reads work again.
// Clients stay connected and must still get everything.
func TestPubSubCutWhileStreamUnreadable(t *testing.T) {
	h := newHarness(t, options{nodes: 2})
	const users = 4 // 10 clients
	cs := startFleet(t, h, fleetSpec{users: users})
	pub := newLoadPublisher(h)
	acl := func(rule string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		defer cancel()
		if err := h.rdb.Do(ctx, "ACL", "SETUSER", "default", rule).Err(); err != nil {
			t.Fatalf("ACL SETUSER default %s: %v", rule, err)
		}
	}
	loadCtx, stopLoad := context.WithCancel(h.ctx)
	defer stopLoad()
	var (
		wg     sync.WaitGroup
		issued int
	)
	wg.Go(func() { issued = pub.load(loadCtx, 300, 0, 8, fleetPick(users, 100)) })
	cuts := scaledN(t, 3, 1)
	for range cuts {
		time.Sleep(time.Second)
		acl("-xrange")
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		err := h.rdb.ClientKillByFilter(ctx, "TYPE", "pubsub").Err()
		cancel()
		if err != nil {
			acl("+xrange")
			t.Fatalf("CLIENT KILL TYPE pubsub: %v", err)
		}
		time.Sleep(1500 * time.Millisecond) // resubscribed, gap fill failing
		acl("+xrange")
	}
	time.Sleep(2 * time.Second) // reads work again: every node can catch up
	stopLoad()
	wg.Wait()
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs, truth, 20*time.Second)
	for _, c := range cs {
		if conns, closes, _ := c.rec.snapshot(); len(conns) != 1 || len(closes) != 0 {
			t.Errorf("client %s: %d welcomes and closes %v, want exactly one welcome and no disconnect", c.name, len(conns), closes)
		}
	}
	summary(t, "pubsubcut-unreadable: alarms=%d issued=%d clients=%d cuts=%d deliveries=%d lost=%d dup=%d reordered=%d",
		len(truth), issued, len(cs), cuts, s.received, s.lost, s.dup, s.reordered)
}

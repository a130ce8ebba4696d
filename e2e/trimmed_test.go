package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestTrimmedHistory: with a stream and window of 50 alarms and channel
// histories of 20, a client that is away while far more are published on
// its channel cannot be resumed: its welcome says
// expired (never a silent gap), the history API says incomplete, and live
// alarms flow again from the new position.
func TestTrimmedHistory(t *testing.T) {
	h := newHarness(t, options{nodes: 2, env: map[string]string{
		"GATEWAY_STREAM_MAXLEN": "50", "GATEWAY_WINDOW": "50", "GATEWAY_CHANNEL_HISTORY": "20",
	}})
	away := newRecClient(h, "away-d0", "away", nil)
	cs := []*recClient{away, newRecClient(h, "away-d1", "away", nil), newRecClient(h, "ctl-d0", "ctl", []string{"team:x"})}
	startAll(t, cs)
	pub := newLoadPublisher(h)
	chans := []string{"user:away", "user:ctl", "team:x", "broadcast", "user:nobody"}
	pick := func(i int) (string, any) { return chans[i%len(chans)], map[string]int{"n": i} }

	pub.load(h.ctx, 200, 20, 4, pick)
	verifyAll(t, cs, pub.truth(), 10*time.Second)
	away.stop()
	lastID, epoch := away.lastPos[0], away.lastPos[1]
	if lastID == "" {
		t.Fatal("away client has no position")
	}
	gone := scaledN(t, 300, 120)
	pub.load(h.ctx, 300, gone, 8, func(i int) (string, any) { return pick(i + 20) })

	ctx, cancel := context.WithTimeout(h.ctx, 5*time.Second)
	hist, err := h.publisher(0).History(ctx, "user:away", lastID, 10)
	cancel()
	if err != nil {
		t.Fatalf("history: %v", err)
	}
	if hist.Complete {
		t.Errorf("history of user:away after %s: complete=true after %d alarms with MAXLEN 50, want false", lastID, gone)
	}
	away.start(lastID, epoch)
	waitWelcomes(t, away, 2)
	live := scaledN(t, 50, 20)
	pub.load(h.ctx, 200, live, 4, func(i int) (string, any) { return pick(i + 20 + gone) })
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, cs[:1], truth, 20*time.Second, "expired")
	verifyAll(t, cs[1:], truth, 20*time.Second)
	conns, _, _ := away.rec.snapshot()
	var statuses []string
	fresh := 0
	for _, c := range conns {
		statuses = append(statuses, c.status)
	}
	if want := []string{"new", "expired"}; !slices.Equal(statuses, want) {
		t.Errorf("away client's welcome statuses %v, want %v", statuses, want)
	}
	if len(conns) == 2 {
		fresh = len(conns[1].alarms)
	}
	if fresh == 0 {
		t.Error("away client got no live alarm after its expired welcome")
	}
	summary(t, "trimmed: alarms=%d away_for=%d statuses=%s history_complete=%v live_after_expired=%d skipped_by_declared_gap=%d lost=%d dup=%d reordered=%d",
		len(truth), gone, fmt.Sprint(statuses), hist.Complete, fresh, s.gapSkipped, s.lost, s.dup, s.reordered)
}

// waitWelcomes waits until c has n welcomes.
func waitWelcomes(t *testing.T, c *recClient, n int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for c.rec.welcomes() < n {
		if ctx.Err() != nil {
			t.Fatalf("client %s: %d welcomes, want %d", c.name, c.rec.welcomes(), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

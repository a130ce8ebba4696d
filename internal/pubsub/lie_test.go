package pubsub

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// foreign appends an entry this gateway did not write.
func (fx *fixture) foreign(t *testing.T) protocol.ID {
	t.Helper()
	id, err := fx.rdb.XAdd(context.Background(), &redis.XAddArgs{
		Stream: fx.store.StreamKey(), Values: []string{"x", "not an alarm"}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return protocol.MustParseID(id)
}

// Item 1 of issue 10: Redis loses its newest entries (a restart from an
// older snapshot, a failover to a lagging replica) and one alarm is
// published on top. The feed must see that the log no longer continues
// from what it applied, and rotate the epoch.
func TestRollbackThenOnePublishRotatesEpoch(t *testing.T) {
	fx := start(t, time.Hour) // no tip checks: the log itself must tell
	fx.run(t)
	fx.publish(t, "user:1")
	lost1 := fx.publish(t, "user:1")
	lost2 := fx.publish(t, "user:1")
	eventually(t, "applied", func() bool { return applied(fx) == lost2 })
	before, _ := fx.hub.State()
	if err := fx.rdb.XDel(context.Background(), fx.store.StreamKey(), lost1.String(), lost2.String()).Err(); err != nil {
		t.Fatal(err)
	}
	fx.publish(t, "user:1")
	time.Sleep(100 * time.Millisecond)
	fx.feed.SyncNow() // a tip check alone sees the newest id above the applied one
	eventually(t, "new epoch", func() bool { e, _ := fx.hub.State(); return e != before })
	after, _ := fx.hub.State()
	if tip, _ := fx.store.Tip(context.Background()); tip.Epoch != after {
		t.Fatalf("hub epoch %s, stream epoch %s", after, tip.Epoch)
	}
}

// Item 4 of issue 10: an entry the gateway did not write, at the tip, is
// not a rollback.
func TestForeignEntryAtTipKeepsEpoch(t *testing.T) {
	fx := start(t, 20*time.Millisecond)
	fx.run(t)
	a := fx.publish(t, "user:1")
	eventually(t, "applied", func() bool { return applied(fx) == a })
	before, _ := fx.hub.State()
	fx.foreign(t)
	time.Sleep(300 * time.Millisecond) // many tip checks
	if e, _ := fx.hub.State(); e != before {
		t.Fatalf("epoch rotated from %s to %s over a foreign entry", before, e)
	}
	b := fx.publish(t, "user:1")
	eventually(t, "next alarm applied", func() bool { return applied(fx) == b })
	if e, _ := fx.hub.State(); e != before {
		t.Fatalf("epoch rotated from %s to %s", before, e)
	}
}

// pagedStore is a store whose gap fills read pages of n entries.
type pagedStore struct {
	*Redis
	n int64
}

func (p pagedStore) PageSize() int64 { return p.n }

// Item 5 of issue 10: malformed entries inside a gap do not end the fill.
func TestGapFillPagesPastMalformedEntries(t *testing.T) {
	fx := start(t, time.Hour)
	f, err := New(Config{NodeID: "np-" + fx.store.LiveChannel(), TipInterval: time.Hour},
		pagedStore{NewRedis(fx.store, fx.rdb), 2}, fx.hub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.feed = f
	fx.run(t)
	fx.streamOnly(t, "user:1")
	fx.foreign(t)
	fx.foreign(t)
	fx.foreign(t)
	fx.streamOnly(t, "user:1")
	last := fx.streamOnly(t, "user:1")
	fx.feed.SyncNow()
	eventually(t, "whole gap filled", func() bool { return applied(fx) == last })
}

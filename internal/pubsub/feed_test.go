package pubsub

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type fixture struct {
	rdb   redis.UniversalClient
	store *stream.Store
	hub   *hub.Hub
	feed  *Feed
}

// start runs a feed on the machine's Redis under a fresh prefix, whose
// keys are deleted at cleanup.
func start(t *testing.T, tip time.Duration) *fixture {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("needs Redis on %s (%s): %v", testproc.RedisAddr(), testproc.RedisAddrEnv, err)
	}
	prefix := testutil.Prefix(t)
	store, err := stream.New(stream.Config{Prefix: prefix}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{NodeID: "n", Window: 100}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(Config{NodeID: "n-" + prefix, TipInterval: tip}, NewRedis(store, rdb), h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{rdb: rdb, store: store, hub: h, feed: f}
}

func (fx *fixture) run(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = fx.feed.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "ready", fx.feed.Ready)
}

// eventually waits up to 10s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, what, cond)
}

func (fx *fixture) publish(t *testing.T, ch string) protocol.ID {
	t.Helper()
	res, err := fx.store.Publish(context.Background(), stream.PublishInput{Channel: ch, Event: "e"})
	if err != nil {
		t.Fatal(err)
	}
	return res.ID
}

// streamOnly appends an alarm without broadcasting it: a Pub/Sub message lost.
func (fx *fixture) streamOnly(t *testing.T, ch string) protocol.ID {
	t.Helper()
	tail, _ := alarm.EncodeTail(ch, "e", nil)
	id, err := fx.rdb.XAdd(context.Background(), &redis.XAddArgs{
		Stream: fx.store.StreamKey(), Values: []string{"c", ch, "t", string(tail)}}).Result()
	if err != nil {
		t.Fatal(err)
	}
	return protocol.MustParseID(id)
}

func applied(fx *fixture) protocol.ID { _, a := fx.hub.State(); return a }

func TestLoadsWindowAtStart(t *testing.T) {
	fx := start(t, time.Hour)
	var last protocol.ID
	for i := 0; i < 5; i++ {
		last = fx.publish(t, "user:1")
	}
	fx.run(t)
	if applied(fx) != last {
		t.Fatalf("applied %v, want %v", applied(fx), last)
	}
	epoch, _ := fx.hub.State()
	if tip, _ := fx.store.Tip(context.Background()); tip.Epoch != epoch || epoch == "" {
		t.Fatalf("hub epoch %q, stream epoch %q", epoch, tip.Epoch)
	}
}

func TestLiveAndGapFill(t *testing.T) {
	fx := start(t, 50*time.Millisecond)
	fx.run(t)
	live := fx.publish(t, "user:1")
	eventually(t, "live alarm", func() bool { return applied(fx) == live })
	missed := fx.streamOnly(t, "user:1") // nobody broadcasts it: the tip check must find it
	eventually(t, "gap fill", func() bool { return applied(fx) == missed })
}

func TestSyncNowCatchesUpAtOnce(t *testing.T) {
	fx := start(t, time.Hour)
	fx.run(t)
	missed := fx.streamOnly(t, "user:2")
	fx.feed.SyncNow()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := fx.hub.WaitApplied(ctx, missed); err != nil {
		t.Fatal(err)
	}
}

func TestRollbackRotatesEpoch(t *testing.T) {
	fx := start(t, 50*time.Millisecond)
	fx.run(t)
	fx.publish(t, "user:1")
	newest := fx.publish(t, "user:1")
	eventually(t, "applied", func() bool { return applied(fx) == newest })
	before, _ := fx.hub.State()
	// A failover to a replica that missed the last write looks like this.
	if err := fx.rdb.XDel(context.Background(), fx.store.StreamKey(), newest.String()).Err(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "new epoch", func() bool { e, _ := fx.hub.State(); return e != before })
	after, _ := fx.hub.State()
	if tip, _ := fx.store.Tip(context.Background()); tip.Epoch != after {
		t.Fatalf("hub epoch %s, stream epoch %s", after, tip.Epoch)
	}
	eventually(t, "ready again", fx.feed.Ready)
}

func TestNotReadyWithoutRedis(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", ContextTimeoutEnabled: true, MaxRetries: -1})
	defer rdb.Close()
	store, _ := stream.New(stream.Config{Prefix: "t-none"}, rdb, nil)
	h, _ := hub.New(hub.Config{NodeID: "n"}, nil, nil)
	f, err := New(Config{NodeID: "n", TipInterval: 20 * time.Millisecond}, NewRedis(store, rdb), h, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = f.Run(ctx)
	if f.Ready() {
		t.Fatal("ready without Redis")
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(Config{}, nil, nil, nil, nil); err == nil {
		t.Fatal("empty config accepted")
	}
}

// blockRange makes every XRANGE fail, as a Redis that cannot serve reads.
type blockRange struct {
	Store
	blocked func() bool
}

func (b blockRange) Follow(ctx context.Context, after protocol.ID, n int64) (stream.Page, error) {
	if b.blocked() {
		return stream.Page{}, stream.ErrUnavailable
	}
	return b.Store.Follow(ctx, after, n)
}

func TestNoLiveApplyPastAFailedGapFill(t *testing.T) {
	fx := start(t, time.Hour)
	var blocked atomic.Bool
	f, err := New(Config{NodeID: "nb-" + fx.store.LiveChannel(), TipInterval: 50 * time.Millisecond},
		blockRange{NewRedis(fx.store, fx.rdb), blocked.Load}, fx.hub, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx.feed = f
	fx.run(t)
	blocked.Store(true)
	hole := fx.streamOnly(t, "user:1") // lost on Pub/Sub, and the stream cannot be read
	fx.feed.SyncNow()
	eventually(t, "not caught up", func() bool { return !fx.feed.Ready() })
	live := fx.publish(t, "user:1")
	time.Sleep(200 * time.Millisecond)
	if a := applied(fx); !a.Less(hole) {
		t.Fatalf("applied %v moved past the unfilled hole %v", a, hole)
	}
	blocked.Store(false)
	eventually(t, "both applied", func() bool { return applied(fx) == live })
	var got []protocol.ID
	for _, e := range fx.hub.Window() {
		got = append(got, e.ID)
	}
	if len(got) < 2 || got[len(got)-2] != hole || got[len(got)-1] != live {
		t.Fatalf("window tail %v, want ... %v %v", got, hole, live)
	}
}

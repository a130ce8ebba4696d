package pubsub

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// backend names a Redis to test the subscription against.
type backend struct {
	name string
	real bool
}

var backends = []backend{{"redis", true}, {"miniredis", false}}

// newRedis returns a Redis on backend b under a unique prefix (whose keys
// are deleted at cleanup), its client and the prefix.
func newRedis(t *testing.T, b backend, cfg stream.Config) (*Redis, redis.UniversalClient, string) {
	t.Helper()
	addr := testproc.RedisAddr()
	if !b.real {
		addr = miniredis.RunT(t).Addr()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	if err := rdb.Ping(testCtx(t)).Err(); err != nil {
		t.Fatalf("redis at %s is required for this test: %v", addr, err)
	}
	cfg.Prefix = testutil.Prefix(t)
	s, err := stream.New(cfg, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return NewRedis(s, rdb), rdb, cfg.Prefix
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantEvent receives one event from sub and compares it with want.
func wantEvent(ctx context.Context, t *testing.T, sub Subscription, want Event) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ev, err := sub.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v, want %v", err, want.Kind)
	}
	if ev.Kind != want.Kind || (want.Payload != "" && ev.Payload != want.Payload) {
		t.Fatalf("Receive = %v %q, want %v %q", ev.Kind, ev.Payload, want.Kind, want.Payload)
	}
	return ev
}

func TestSubscribe(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb, prefix := newRedis(t, b, stream.Config{})
			ctx := testCtx(t)
			sub := s.Subscribe(ctx, "node-1")
			defer sub.Close()
			wantEvent(ctx, t, sub, Event{Kind: EventSubscribed})

			res, err := s.Publish(ctx, stream.PublishInput{Channel: "user:1", Event: "e"})
			if err != nil {
				t.Fatal(err)
			}
			ev := wantEvent(ctx, t, sub, Event{Kind: EventMessage})
			epoch, e, err := alarm.ParsePayload([]byte(ev.Payload))
			if err != nil || epoch != res.Epoch || e.ID != res.ID {
				t.Fatalf("message %q: epoch %q id %v %v, want %q %v", ev.Payload, epoch, e.ID, err, res.Epoch, res.ID)
			}

			// Another node's probe is not delivered; this node's is.
			if err := s.Probe(ctx, "node-2", "other"); err != nil {
				t.Fatal(err)
			}
			if err := s.Probe(ctx, "node-1", "probe-1"); err != nil {
				t.Fatal(err)
			}
			wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "probe-1"})

			// The probe channel is the documented one.
			probe := "{" + prefix + "}:live:probe:node-1"
			if n := rdb.PubSubNumSub(ctx, probe).Val(); n[probe] != 1 {
				t.Fatalf("probe channel subscribers %v", n)
			}

			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := sub.Receive(ctx); err == nil {
				t.Fatal("Receive after Close succeeded")
			}
		})
	}
}

func TestSubscribeReceiveEndsWithCtx(t *testing.T) {
	s, _, _ := newRedis(t, backend{"redis", true}, stream.Config{})
	sub := s.Subscribe(testCtx(t), "n")
	defer sub.Close()
	wantEvent(testCtx(t), t, sub, Event{Kind: EventSubscribed})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := sub.Receive(ctx); !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("Receive with an ending ctx: %v", err)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventSubscribed: "subscribed", EventMessage: "message", EventProbe: "probe", 0: "EventKind(0)",
	} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}

// TestUnavailable: with Redis unreachable, Probe and a subscription's
// Receive fail with stream.ErrUnavailable.
func TestUnavailable(t *testing.T) {
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), MaxRetries: -1, DialerRetries: 1,
		DialerRetryTimeout: time.Millisecond, DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := stream.New(stream.Config{Timeout: time.Second}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewRedis(store, rdb)
	calls := map[string]func(ctx context.Context) error{
		"Probe": func(ctx context.Context) error { return s.Probe(ctx, "n", "p") },
		"Subscribe": func(ctx context.Context) error {
			sub := s.Subscribe(ctx, "n")
			defer sub.Close()
			_, err := sub.Receive(ctx)
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			if err := call(testCtx(t)); !errors.Is(err, stream.ErrUnavailable) {
				t.Fatalf("%s: %v, want ErrUnavailable", name, err)
			}
		})
	}
}

// TestCluster subscribes and probes through a ClusterClient.
func TestCluster(t *testing.T) {
	addr := testutil.ClusterRedis(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := stream.New(stream.Config{}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewRedis(store, rdb)
	ctx := testCtx(t)
	sub := s.Subscribe(ctx, "n")
	defer sub.Close()
	wantEvent(ctx, t, sub, Event{Kind: EventSubscribed})
	if err := s.Probe(ctx, "n", "p"); err != nil {
		t.Fatal(err)
	}
	wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "p"})
}

// TestClusterShardedPubSub: with ShardedPubSub the script broadcasts with
// SPUBLISH and the subscription uses SSUBSCRIBE; when Redis ends the
// sharded subscription (the slot leaves the node: a slot move or a
// failover), Receive reports ErrShardMoved, and once the slot is served
// again the next Receive subscribes anew (EventSubscribed), so the feed
// fills the gap.
func TestClusterShardedPubSub(t *testing.T) {
	addr := testutil.ClusterRedis(t)
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{addr}, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	store, err := stream.New(stream.Config{Prefix: "shard", ShardedPubSub: true}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := NewRedis(store, rdb)
	ctx := testCtx(t)
	sub := s.Subscribe(ctx, "n")
	defer sub.Close()
	wantEvent(ctx, t, sub, Event{Kind: EventSubscribed})
	if got := rdb.PubSubShardChannels(ctx, "*").Val(); len(got) != 2 {
		t.Fatalf("PUBSUB SHARDCHANNELS = %v, want the live and probe channels", got)
	}
	if got := rdb.PubSubChannels(ctx, "*").Val(); len(got) != 0 {
		t.Fatalf("PUBSUB CHANNELS = %v, want none", got)
	}
	r, err := s.Publish(ctx, stream.PublishInput{Channel: "a", Event: "e"})
	if err != nil {
		t.Fatal(err)
	}
	ev := wantEvent(ctx, t, sub, Event{Kind: EventMessage})
	if !strings.Contains(ev.Payload, r.ID.String()) {
		t.Fatalf("message %q does not carry %s", ev.Payload, r.ID)
	}
	if err := s.Probe(ctx, "n", "p1"); err != nil {
		t.Fatal(err)
	}
	wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "p1"})

	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	slot := rdb.ClusterKeySlot(ctx, s.LiveChannel()).Val()
	if err := admin.Do(ctx, "CLUSTER", "DELSLOTS", slot).Err(); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := sub.Receive(rctx); !errors.Is(err, ErrShardMoved) || !errors.Is(err, stream.ErrUnavailable) {
		t.Fatalf("Receive after the slot left = %v, want ErrShardMoved", err)
	}
	if err := admin.Do(ctx, "CLUSTER", "ADDSLOTS", slot).Err(); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "cluster_state:ok", func() bool { return testutil.ClusterOK(addr) })
	for {
		ev, err := sub.Receive(rctx)
		if err == nil && ev.Kind == EventSubscribed {
			break
		}
		if rctx.Err() != nil {
			t.Fatalf("no new subscription after the slot came back: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := s.Probe(ctx, "n", "p2"); err != nil {
		t.Fatal(err)
	}
	wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "p2"})
}

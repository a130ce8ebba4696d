package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/pubsub"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is one test's Redis, prefix and store.
type env struct {
	t     testing.TB
	rdb   redis.UniversalClient
	store *stream.Store
	keys  stream.IngestKeys
	next  int // the next seq of addSeqFrom
}

// newEnv connects to the shared Redis with a unique prefix whose keys are
// deleted at cleanup (testutil.Prefix).
func newEnv(t testing.TB, scfg stream.Config) *env {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	scfg.Prefix = testutil.Prefix(t)
	s, err := stream.New(scfg, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, rdb: rdb, store: s, keys: s.IngestKeys()}
	if err := rdb.Ping(e.ctx()).Err(); err != nil {
		t.Fatalf("redis at %s is required: %v", testproc.RedisAddr(), err)
	}
	return e
}

func (e *env) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	e.t.Cleanup(cancel)
	return ctx
}

// consumer returns a Consumer named id with test-sized intervals.
func (e *env) consumer(id string, cfg Config) (*Consumer, *metrics.Metrics) {
	e.t.Helper()
	cfg.NodeID = id
	if cfg.Block == 0 {
		cfg.Block = 100 * time.Millisecond
	}
	if cfg.TrimEvery == 0 {
		cfg.TrimEvery = 100 * time.Millisecond
	}
	if cfg.StatsEvery == 0 {
		cfg.StatsEvery = 50 * time.Millisecond
	}
	m := metrics.New(nil)
	c, err := New(cfg, Deps{Store: e.store, PubSub: pubsub.NewRedis(e.store, e.rdb), Metrics: m})
	if err != nil {
		e.t.Fatal(err)
	}
	return c, m
}

// run runs c until the returned stop is called (or the test ends).
func (e *env) run(c *Consumer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = c.Run(ctx) })
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return stop
}

// add appends one ingest entry.
func (e *env) add(vals ...any) string {
	e.t.Helper()
	id, err := e.rdb.XAdd(e.ctx(), &redis.XAddArgs{Stream: e.keys.Stream, Values: vals}).Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return id
}

// addSeq appends n alarms spread over channels ch0..ch<chans-1>, data
// {"seq":i}.
func (e *env) addSeq(n, chans int) {
	e.t.Helper()
	pipe := e.rdb.Pipeline()
	for i := range n {
		pipe.XAdd(e.ctx(), &redis.XAddArgs{Stream: e.keys.Stream, Values: []any{
			FieldChannel, fmt.Sprintf("ch%d", i%chans), FieldEvent, "e", FieldData, fmt.Sprintf(`{"seq":%d}`, i)}})
	}
	if _, err := pipe.Exec(e.ctx()); err != nil {
		e.t.Fatal(err)
	}
}

// logged is one alarm of the log.
type logged struct {
	channel string
	seq     int
}

// log reads the whole alarm log.
func (e *env) log() []logged {
	e.t.Helper()
	msgs, err := e.rdb.XRange(e.ctx(), e.store.StreamKey(), "-", "+").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]logged, 0, len(msgs))
	for _, m := range msgs {
		tail, _ := m.Values["t"].(string)
		var a struct {
			Channel string `json:"channel"`
			Data    struct {
				Seq int `json:"seq"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte("{"+tail[1:]), &a); err != nil {
			e.t.Fatalf("log entry %s: %v", m.ID, err)
		}
		out = append(out, logged{a.Channel, a.Data.Seq})
	}
	return out
}

// checkLog checks that the log holds seq 0..n-1 exactly once each, in
// ascending order within every channel.
func (e *env) checkLog(n int) {
	e.t.Helper()
	got := e.log()
	seen := map[int]bool{}
	last := map[string]int{}
	for _, l := range got {
		if seen[l.seq] {
			e.t.Fatalf("seq %d appended twice", l.seq)
		}
		seen[l.seq] = true
		if p, ok := last[l.channel]; ok && p > l.seq {
			e.t.Fatalf("channel %s: seq %d after %d", l.channel, l.seq, p)
		}
		last[l.channel] = l.seq
	}
	if len(got) != n {
		e.t.Fatalf("log holds %d alarms, want %d", len(got), n)
	}
}

// waitDrained waits until the group has read everything and acknowledged
// it.
func (e *env) waitDrained(limit time.Duration) {
	e.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		gs, err := e.rdb.XInfoGroups(e.ctx(), e.keys.Stream).Result()
		if err == nil && len(gs) == 1 && gs[0].Lag == 0 && gs[0].Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("not drained after %v: %+v %v", limit, gs, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// readAsHolder makes c the holder of its group's lease (creating the
// group) and reads the new entries, failing unless there are want.
func readAsHolder(t testing.TB, ctx context.Context, c *Consumer, want int) []stream.IngestEntry {
	t.Helper()
	if err := c.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.lease.hold(ctx) {
		t.Fatal("no lease")
	}
	msgs, err := c.readNew(ctx)
	if err != nil || len(msgs) != want {
		t.Fatalf("read %d: %v", len(msgs), err)
	}
	return msgs
}

package ingest

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// router is a test-only stream.Router: it publishes each alarm into its
// channel's partition and a shared channel's into every partition, each
// partition's items in input order, and answers partition 0's result for
// a shared item, or the first failing partition's error. With failOnce
// set, its first sub-batch for that partition fails whole, unwritten.
type router struct {
	stores   []*stream.Store
	failOnce int // a partition, or -1
	failed   atomic.Bool
}

func (r *router) PublishBatch(ctx context.Context, ins []stream.PublishInput) ([]stream.PublishResult, []error) {
	res := make([]stream.PublishResult, len(ins))
	errs := make([]error, len(ins))
	for k, s := range r.stores {
		var sub []stream.PublishInput
		var pos []int
		for i, in := range ins {
			if t, shared := stream.PartitionOf(in.Channel, len(r.stores)); shared || t == k {
				sub, pos = append(sub, in), append(pos, i)
			}
		}
		if len(sub) == 0 {
			continue
		}
		var rs []stream.PublishResult
		var es []error
		if k == r.failOnce && r.failed.CompareAndSwap(false, true) {
			rs, es = make([]stream.PublishResult, len(sub)), make([]error, len(sub))
			for j := range es {
				es[j] = stream.ErrUnavailable
			}
		} else {
			rs, es = s.PublishBatch(ctx, sub)
		}
		for j, i := range pos {
			switch _, shared := stream.PartitionOf(ins[i].Channel, len(r.stores)); {
			case errs[i] != nil:
			case es[j] != nil:
				errs[i] = es[j]
			case !shared || k == 0:
				res[i] = rs[j]
			}
		}
	}
	return res, errs
}

// partitioned returns one env per partition of a fresh prefix of P
// partitions (its keys deleted at cleanup) and a router over them.
func partitioned(t *testing.T, partitions int) ([]*env, *router) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	prefix := testutil.Prefix(t)
	t.Cleanup(func() { deleteKeys(t, rdb, "{"+prefix+"/*") })
	envs := make([]*env, partitions)
	r := &router{failOnce: -1}
	for k := range envs {
		s, err := stream.New(stream.Config{Prefix: prefix, Partitions: partitions, Partition: k}, rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		envs[k] = &env{t: t, rdb: rdb, store: s, keys: s.IngestKeys()}
		r.stores = append(r.stores, s)
	}
	return envs, r
}

// deleteKeys deletes the keys matching pattern.
func deleteKeys(t *testing.T, rdb redis.UniversalClient, pattern string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	keys, err := rdb.Keys(ctx, pattern).Result()
	if err == nil && len(keys) > 0 {
		err = rdb.Del(ctx, keys...).Err()
	}
	if err != nil {
		t.Logf("cleanup of %s: %v", pattern, err)
	}
}

// partConsumer returns the Consumer of e's partition named id, publishing
// through r, with test-sized intervals and the metrics m.
func (e *env) partConsumer(id string, r *router, m *metrics.Metrics, cfg Config) *Consumer {
	e.t.Helper()
	cfg.NodeID = id
	cfg.Block = 100 * time.Millisecond
	cfg.TrimEvery, cfg.StatsEvery = 100*time.Millisecond, 50*time.Millisecond
	c, err := New(cfg, Deps{Store: e.store, Publisher: r, Metrics: m})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// inboxOf returns an inbox channel of partition k of partitions.
func inboxOf(t *testing.T, k, partitions int) string {
	t.Helper()
	for c := 'a'; c <= 'z'; c++ {
		if p, _ := stream.PartitionOf("user:"+string(c), partitions); p == k {
			return "user:" + string(c)
		}
	}
	t.Fatalf("no inbox of partition %d among user:a..user:z", k)
	return ""
}

// addEntry appends one alarm of channel with data {"seq":seq}, with the
// entry id id ("*": any).
func (e *env) addEntry(id, channel string, seq int) {
	e.t.Helper()
	if err := e.rdb.XAdd(e.ctx(), &redis.XAddArgs{Stream: e.keys.Stream, ID: id, Values: []any{
		FieldChannel, channel, FieldEvent, "e", FieldData, `{"seq":` + strconv.Itoa(seq) + `}`}}).Err(); err != nil {
		e.t.Fatal(err)
	}
}

// checkPartitionLog checks that e's log holds exactly want (channel ->
// seqs), each once, in ascending order within each channel.
func (e *env) checkPartitionLog(want map[string][]int) {
	e.t.Helper()
	got := map[string][]int{}
	for _, l := range e.log() {
		got[l.channel] = append(got[l.channel], l.seq)
	}
	for ch, seqs := range want {
		if !slices.Equal(got[ch], seqs) {
			e.t.Errorf("%s: %s holds %v, want %v", e.store.StreamKey(), ch, got[ch], seqs)
		}
	}
	if len(got) != len(want) {
		e.t.Errorf("%s: channels %v, want %v", e.store.StreamKey(), got, want)
	}
}

// entryRecords counts the entry idempotency records of e's partition.
func (e *env) entryRecords() int {
	e.t.Helper()
	keys, err := e.rdb.Keys(e.ctx(), e.store.HashTag()+":iidem:*").Result()
	if err != nil {
		e.t.Fatal(err)
	}
	return len(keys)
}

// seqs returns from, from+1, ..., to.
func seqs(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestPartitionsConsumeAtOnce: the consumers of two partitions hold their
// leases at the same time and each publishes its stream through the
// router: an entry put in the other partition's stream lands in its
// channel's partition, a shared one in both; the same entry id in both
// streams is two entries; the shared gauges add up.
func TestPartitionsConsumeAtOnce(t *testing.T) {
	envs, r := partitioned(t, 2)
	u0, u1 := inboxOf(t, 0, 2), inboxOf(t, 1, 2)
	// The same id in both streams, both published into partition 1.
	envs[0].addEntry("1-1", "broadcast", 0)
	envs[1].addEntry("1-1", u1, 100)
	m := metrics.New(nil)
	c0 := envs[0].partConsumer("n1", r, m, Config{})
	c1 := envs[1].partConsumer("n2", r, m, Config{})
	stop0 := envs[0].run(c0)
	envs[1].run(c1)
	testutil.WaitFor(t, 5*time.Second, "both leases held", func() bool { return promtest.ToFloat64(m.Ingest.Leader) == 2 })
	for k, node := range []string{"n1:", "n2:"} {
		if v := envs[k].rdb.Get(envs[k].ctx(), envs[k].keys.Lease).Val(); len(v) < 3 || v[:3] != node {
			t.Fatalf("lease of partition %d holds %q, want %s...", k, v, node)
		}
	}
	for i := 1; i <= 10; i++ {
		envs[0].addEntry("*", u0, i)
		envs[0].addEntry("*", u1, 10+i) // in the other partition's stream
		envs[0].addEntry("*", "broadcast", 20+i)
		envs[1].addEntry("*", u1, 100+i)
	}
	for _, e := range envs {
		e.waitDrained(10 * time.Second)
	}
	broadcast := append([]int{0}, seqs(21, 30)...)
	envs[0].checkPartitionLog(map[string][]int{u0: seqs(1, 10), "broadcast": broadcast})
	got := map[string][]int{}
	for _, l := range envs[1].log() {
		got[l.channel] = append(got[l.channel], l.seq)
	}
	// u1's alarms of the two streams interleave; each stream's keep their order.
	var fromStream0, fromStream1 []int
	for _, s := range got[u1] {
		if s < 100 {
			fromStream0 = append(fromStream0, s)
		} else {
			fromStream1 = append(fromStream1, s)
		}
	}
	if !slices.Equal(fromStream0, seqs(11, 20)) || !slices.Equal(fromStream1, seqs(100, 110)) {
		t.Errorf("partition 1: %s holds %v", u1, got[u1])
	}
	if !slices.Equal(got["broadcast"], broadcast) || len(got) != 2 {
		t.Errorf("partition 1 holds %v, want broadcast %v and %s", got, broadcast, u1)
	}
	testutil.WaitFor(t, 5*time.Second, "lag and pending 0, no records left", func() bool {
		return promtest.ToFloat64(m.Ingest.Lag) == 0 && promtest.ToFloat64(m.Ingest.Pending) == 0 &&
			envs[0].entryRecords() == 0 && envs[1].entryRecords() == 0
	})
	if n := promtest.ToFloat64(m.Ingest.Alarms.WithLabelValues("created")); n != 42 {
		t.Errorf("created %v, want 42", n)
	}
	stop0()
	if n := promtest.ToFloat64(m.Ingest.Leader); n != 1 {
		t.Errorf("leases held after partition 0's consumer stopped: %v, want 1", n)
	}
}

// TestSharedEntryOnceWhenAckIsLost: partition 0's holder publishes a
// batch (shared alarms, and an inbox of partition 1 put in partition 0's
// stream) into both partitions and dies before XACK; another node claims
// the entries and publishes them again: replays in both partitions,
// nothing appended twice, and every record deleted from the partition
// it is in.
func TestSharedEntryOnceWhenAckIsLost(t *testing.T) {
	envs, r := partitioned(t, 2)
	u1 := inboxOf(t, 1, 2)
	for i := range 20 {
		envs[0].addEntry("*", "broadcast", i)
	}
	for i := 20; i < 30; i++ {
		envs[0].addEntry("*", u1, i)
	}
	ctx := envs[0].ctx()
	cfg := Config{LeaseTTL: 300 * time.Millisecond, ClaimIdle: 200 * time.Millisecond}
	dead := envs[0].partConsumer("dead", r, metrics.New(nil), cfg)
	msgs := readAsHolder(t, ctx, dead, 30)
	ins := make([]stream.PublishInput, len(msgs))
	for i, m := range msgs {
		ins[i], _ = input(m, dead.part)
	}
	if _, errs := r.PublishBatch(ctx, ins); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	if n0, n1 := envs[0].entryRecords(), envs[1].entryRecords(); n0 != 20 || n1 != 30 {
		t.Fatalf("records before the ack: %d and %d, want 20 and 30", n0, n1)
	}
	m := metrics.New(nil)
	envs[0].run(envs[0].partConsumer("live", r, m, cfg))
	envs[0].waitDrained(10 * time.Second)
	envs[0].checkPartitionLog(map[string][]int{"broadcast": seqs(0, 19)})
	envs[1].checkPartitionLog(map[string][]int{"broadcast": seqs(0, 19), u1: seqs(20, 29)})
	if got := promtest.ToFloat64(m.Ingest.Alarms.WithLabelValues("replayed")); got != 30 {
		t.Errorf("replayed = %v, want 30", got)
	}
	if n0, n1 := envs[0].entryRecords(), envs[1].entryRecords(); n0 != 0 || n1 != 0 {
		t.Errorf("records after the ack: %d and %d, want none", n0, n1)
	}
}

// TestSharedEntryRetriedWherePartitionFailed: a shared entry accepted by
// partition 0 and refused by partition 1 (Redis failed there) stays
// pending; its retry replays in partition 0 and appends in partition 1:
// once in each.
func TestSharedEntryRetriedWherePartitionFailed(t *testing.T) {
	envs, r := partitioned(t, 2)
	r.failOnce = 1
	for i := range 10 {
		envs[0].addEntry("*", "broadcast", i)
	}
	m := metrics.New(nil)
	envs[0].run(envs[0].partConsumer("n1", r, m, Config{Parallel: 1}))
	envs[0].waitDrained(10 * time.Second)
	for _, e := range envs {
		e.checkPartitionLog(map[string][]int{"broadcast": seqs(0, 9)})
	}
	if got := promtest.ToFloat64(m.Ingest.Alarms.WithLabelValues("replayed")); got != 10 {
		t.Errorf("replayed = %v, want 10 (partition 0's answers to the retry)", got)
	}
}

// TestOnePartitionRecordKeyUnchanged: with one partition an entry's
// record is {prefix}:iidem:<entry id>, as before partitions, and the
// acknowledgement deletes it.
func TestOnePartitionRecordKeyUnchanged(t *testing.T) {
	e := newEnv(t, stream.Config{})
	ctx := e.ctx()
	e.addEntry("*", "user:1", 0)
	c, _ := e.consumer("n1", Config{})
	msgs := readAsHolder(t, ctx, c, 1)
	in, _ := input(msgs[0], c.part)
	if _, errs := c.pub.PublishBatch(ctx, []stream.PublishInput{in}); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	key := "{" + e.prefix() + "}:iidem:" + msgs[0].ID
	if recs := e.idemRecords(); len(recs) != 1 || recs[0] != key {
		t.Fatalf("records %v, want %s", recs, key)
	}
	if err := c.settle(ctx, msgs, []string{""}, []string{"user:1"}); err != nil {
		t.Fatal(err)
	}
	if recs := e.idemRecords(); len(recs) != 0 {
		t.Fatalf("records after the ack: %v", recs)
	}
}

// TestNewPartitioned: with partitions, New requires a Publisher and runs
// the Pub/Sub bridge on partition 0 only.
func TestNewPartitioned(t *testing.T) {
	envs, r := partitioned(t, 2)
	listener := nopListener{}
	for _, tc := range []struct {
		name string
		k    int
		pub  Publisher
		cfg  Config
		ok   bool
	}{
		{"router", 1, r, Config{}, true},
		{"no publisher", 1, nil, Config{}, false},
		{"bridge on partition 0", 0, r, Config{PubSubChannel: "legacy"}, true},
		{"bridge on partition 1", 1, r, Config{PubSubChannel: "legacy"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.NodeID = "n"
			_, err := New(tc.cfg, Deps{Store: envs[tc.k].store, Publisher: tc.pub, PubSub: listener, Metrics: metrics.New(nil)})
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
		})
	}
}

// nopListener delivers nothing.
type nopListener struct{}

func (nopListener) Listen(ctx context.Context, _ string, _ func(string)) { <-ctx.Done() }

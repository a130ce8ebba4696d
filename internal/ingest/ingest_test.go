package ingest

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	promtest "github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestNewValidates(t *testing.T) {
	e := newEnv(t, stream.Config{})
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"no node id", Config{}},
		{"block above timeout", Config{NodeID: "n", Block: 5 * time.Second}},
		{"negative batch", Config{NodeID: "n", BatchSize: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := New(tc.cfg, Deps{Store: e.store, Metrics: metrics.New(nil)}); err == nil {
				t.Fatal("New accepted it")
			}
		})
	}
}

// TestConsumesBacklogInOrder appends alarms before any consumer runs,
// then consumes them: each once, in order per channel, lag back to 0,
// the ingest stream trimmed.
func TestConsumesBacklogInOrder(t *testing.T) {
	e := newEnv(t, stream.Config{})
	e.addSeq(1200, 7) // the stream exists before the group: the group starts at 0
	c, m := e.consumer("n1", Config{BatchSize: 100})
	e.run(c)
	e.waitDrained(20 * time.Second)
	e.checkLog(1200)
	if got := promtest.ToFloat64(m.Ingest.Alarms.WithLabelValues("created")); got != 1200 {
		t.Errorf("ingested created = %v, want 1200", got)
	}
	testutil.WaitFor(t, 5*time.Second, "lag gauge 0 and stream trimmed", func() bool {
		n, _ := e.rdb.XLen(e.ctx(), e.keys.Stream).Result()
		return promtest.ToFloat64(m.Ingest.Lag) == 0 && promtest.ToFloat64(m.Ingest.Pending) == 0 && n <= 1
	})
}

// TestExactlyOnceWhenAckIsLost: a node reads and publishes a batch and
// dies before XACK; another claims the entries after ClaimIdle and
// publishes them again: replays, nothing appended twice.
func TestExactlyOnceWhenAckIsLost(t *testing.T) {
	e := newEnv(t, stream.Config{})
	e.addSeq(50, 3)
	ctx := e.ctx()
	dead, _ := e.consumer("dead", Config{LeaseTTL: 300 * time.Millisecond, ClaimIdle: 200 * time.Millisecond})
	msgs := readAsHolder(t, ctx, dead, 50)
	dead.groupOK = true
	ins := make([]stream.PublishInput, len(msgs))
	for i, m := range msgs {
		ins[i], _ = input(m, 0)
	}
	if _, errs := e.store.PublishBatch(ctx, ins); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	// "dead" never acknowledges nor releases its lease.
	live, m := e.consumer("live", Config{LeaseTTL: 300 * time.Millisecond, ClaimIdle: 200 * time.Millisecond})
	e.run(live)
	e.waitDrained(10 * time.Second)
	e.checkLog(50)
	if got := promtest.ToFloat64(m.Ingest.Claimed); got != 50 {
		t.Errorf("claimed = %v, want 50", got)
	}
	if got := promtest.ToFloat64(m.Ingest.Alarms.WithLabelValues("replayed")); got != 50 {
		t.Errorf("replayed = %v, want 50", got)
	}
}

// TestClaimWaitsForIdleAndKeepsOrder: entries pending on another consumer
// are not overtaken by newer ones: the holder waits ClaimIdle, claims
// them, and only then reads on.
func TestClaimWaitsForIdleAndKeepsOrder(t *testing.T) {
	e := newEnv(t, stream.Config{})
	e.addSeq(30, 2)
	ctx := e.ctx()
	stuck, _ := e.consumer("stuck", Config{BatchSize: 10, LeaseTTL: 200 * time.Millisecond})
	readAsHolder(t, ctx, stuck, 10)
	claimIdle := 1500 * time.Millisecond
	start := time.Now()
	live, m := e.consumer("live", Config{BatchSize: 10, LeaseTTL: 200 * time.Millisecond, ClaimIdle: claimIdle})
	e.run(live)
	e.waitDrained(10 * time.Second)
	if d := time.Since(start); d < claimIdle-100*time.Millisecond {
		t.Errorf("drained after %v, before ClaimIdle %v", d, claimIdle)
	}
	e.checkLog(30)
	if got := promtest.ToFloat64(m.Ingest.Claimed); got != 10 {
		t.Errorf("claimed = %v, want 10", got)
	}
}

// TestDeadLetters: refused entries go to the dead-letter stream with
// their fields, reason and id; the good ones around them are published.
func TestDeadLetters(t *testing.T) {
	e := newEnv(t, stream.Config{MaxAlarmBytes: 200})
	bad := []struct {
		reason string
		vals   []any
	}{
		{ReasonBadJSON, []any{"channel", "a", "event", "e", "data", "{nope"}},
		{ReasonBadChannel, []any{"channel", "no spaces", "event", "e", "data", "1"}},
		{ReasonBadEvent, []any{"channel", "a", "event", "", "data", "1"}},
		{ReasonInvalidUTF8, []any{"channel", "a", "event", "e", "data", "\"\xff\xfe\""}},
		{ReasonTooLarge, []any{"channel", "a", "event", "e", "data", `"` + strings.Repeat("x", 300) + `"`}},
		{ReasonMissingField, []any{"channel", "a", "data", "1"}},
		{ReasonBadIdemKey, []any{"channel", "a", "event", "e", "idempotency_key", "bad\x01key"}},
		// On the channel of the first k1: across channels the parallel
		// pipelines decide which of two entries with one key comes first.
		{ReasonIdemReused, []any{"channel", "ch0", "event", "other", "idempotency_key", "k1"}},
	}
	e.add("channel", "ch0", "event", "e", "data", `{"seq":0}`, "idempotency_key", "k1")
	ids := map[string]string{}
	for i, b := range bad {
		ids[e.add(b.vals...)] = b.reason
		e.add("channel", "ch0", "event", "e", "data", `{"seq":`+strconv.Itoa(i+1)+`}`)
	}
	c, m := e.consumer("n1", Config{})
	e.run(c)
	e.waitDrained(10 * time.Second)
	e.checkLog(len(bad) + 1)
	dead, err := e.rdb.XRange(e.ctx(), e.keys.Dead, "-", "+").Result()
	if err != nil || len(dead) != len(bad) {
		t.Fatalf("dead letters %d (%v), want %d", len(dead), err, len(bad))
	}
	for _, d := range dead {
		id, _ := d.Values[FieldID].(string)
		reason, _ := d.Values[FieldReason].(string)
		if want := ids[id]; reason != want || want == "" {
			t.Errorf("dead letter of %s: reason %q, want %q", id, reason, want)
		}
		if _, ok := d.Values[FieldChannel]; !ok {
			t.Errorf("dead letter of %s lost its fields: %v", id, d.Values)
		}
		if got := promtest.ToFloat64(m.Ingest.DeadLetters.WithLabelValues(reason)); got != 1 {
			t.Errorf("dead letters{%s} = %v, want 1", reason, got)
		}
	}
}

// TestTrimOnlyBehindAcks: the ingest stream keeps every entry from the
// oldest unacknowledged one on.
func TestTrimOnlyBehindAcks(t *testing.T) {
	e := newEnv(t, stream.Config{})
	e.addSeq(10, 1)
	ctx := e.ctx()
	c, _ := e.consumer("n1", Config{})
	msgs := readAsHolder(t, ctx, c, 10)
	xlen := func() int64 {
		n, err := e.rdb.XLen(ctx, e.keys.Stream).Result()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := c.trim(ctx); err != nil || xlen() != 10 {
		t.Fatalf("nothing acked: len %d after trim (%v), want 10", xlen(), err)
	}
	// Ack 0..3 and 5: 4 is the oldest pending.
	if err := e.rdb.XAck(ctx, e.keys.Stream, c.cfg.Group, msgs[0].ID, msgs[1].ID, msgs[2].ID, msgs[3].ID, msgs[5].ID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.trim(ctx); err != nil || xlen() != 6 {
		t.Fatalf("len %d after trim (%v), want 6", xlen(), err)
	}
	if err := c.settle(ctx, msgs, make([]string, len(msgs)), nil); err != nil {
		t.Fatal(err)
	}
	if err := c.trim(ctx); err != nil || xlen() != 1 {
		t.Fatalf("all acked: len %d after trim (%v), want 1 (the last delivered)", xlen(), err)
	}
}

// TestTwoConsumersKeepOrder: two nodes compete while alarms keep coming
// and the holder stops half way; the standby takes over; every alarm is
// appended once, in order per channel.
func TestTwoConsumersKeepOrder(t *testing.T) {
	e := newEnv(t, stream.Config{})
	cfg := Config{BatchSize: 50, LeaseTTL: 300 * time.Millisecond, ClaimIdle: 300 * time.Millisecond}
	a, ma := e.consumer("a", cfg)
	b, mb := e.consumer("b", cfg)
	stopA := e.run(a)
	e.run(b)
	for range 10 {
		e.addSeqFrom(100, 5)
		time.Sleep(20 * time.Millisecond)
	}
	testutil.WaitFor(t, 5*time.Second, "a leader", func() bool {
		return promtest.ToFloat64(ma.Ingest.Leader)+promtest.ToFloat64(mb.Ingest.Leader) == 1
	})
	stopA()
	for range 10 {
		e.addSeqFrom(100, 5)
		time.Sleep(20 * time.Millisecond)
	}
	e.waitDrained(20 * time.Second)
	e.checkLog(2000)
}

// TestPubSubBridge: a message on the migration channel is published once
// (only the holder forwards it).
func TestPubSubBridge(t *testing.T) {
	e := newEnv(t, stream.Config{})
	channel := e.keys.Stream + ":legacy"
	cfg := Config{PubSubChannel: channel}
	a, ma := e.consumer("a", cfg)
	b, mb := e.consumer("b", cfg)
	e.run(a)
	e.run(b)
	testutil.WaitFor(t, 5*time.Second, "a leader and both subscribed", func() bool {
		n, _ := e.rdb.PubSubNumSub(e.ctx(), channel).Result()
		return promtest.ToFloat64(ma.Ingest.Leader)+promtest.ToFloat64(mb.Ingest.Leader) == 1 && n[channel] == 2
	})
	for i := range 3 {
		body := `{"channel":"ch0","event":"e","data":{"seq":` + strconv.Itoa(i) + `}}`
		if err := e.rdb.Publish(e.ctx(), channel, body).Err(); err != nil {
			t.Fatal(err)
		}
	}
	testutil.WaitFor(t, 5*time.Second, "3 alarms", func() bool { return len(e.log()) == 3 })
	time.Sleep(200 * time.Millisecond)
	e.checkLog(3)
	fwd := promtest.ToFloat64(ma.Ingest.PubSub.WithLabelValues("forwarded")) + promtest.ToFloat64(mb.Ingest.PubSub.WithLabelValues("forwarded"))
	if fwd != 3 {
		t.Errorf("forwarded %v, want 3", fwd)
	}
}

// addSeqFrom appends n more alarms, continuing the sequence.
func (e *env) addSeqFrom(n, chans int) {
	e.t.Helper()
	pipe := e.rdb.Pipeline()
	for range n {
		i := e.next
		e.next++
		pipe.XAdd(e.ctx(), &redis.XAddArgs{Stream: e.keys.Stream, Values: []any{
			FieldChannel, "ch" + strconv.Itoa(i%chans), FieldEvent, "e", FieldData, `{"seq":` + strconv.Itoa(i) + `}`}})
	}
	if _, err := pipe.Exec(e.ctx()); err != nil {
		e.t.Fatal(err)
	}
}

// flaky publishes through the store but, on its first call, fails from
// the middle of the batch on as a broken connection would: the items
// before are published, the rest are not.
type flaky struct {
	*stream.Store
	calls int
}

func (f *flaky) PublishBatch(ctx context.Context, ins []stream.PublishInput) ([]stream.PublishResult, []error) {
	f.calls++
	if f.calls > 1 || len(ins) < 2 {
		return f.Store.PublishBatch(ctx, ins)
	}
	half := len(ins) / 2
	res, errs := f.Store.PublishBatch(ctx, ins[:half])
	for range ins[half:] {
		res = append(res, stream.PublishResult{})
		errs = append(errs, stream.ErrUnavailable)
	}
	return res, errs
}

// TestRedisFailureMidBatchKeepsOrder: the items a failed publish did not
// write stay pending and are published before anything newer.
func TestRedisFailureMidBatchKeepsOrder(t *testing.T) {
	e := newEnv(t, stream.Config{})
	e.addSeqFrom(200, 3)
	c, err := New(Config{NodeID: "n1", Block: 100 * time.Millisecond, Parallel: 1},
		Deps{Store: &flaky{Store: e.store}, Metrics: metrics.New(nil)})
	if err != nil {
		t.Fatal(err)
	}
	e.run(c)
	time.Sleep(50 * time.Millisecond)
	e.addSeqFrom(100, 3)
	e.waitDrained(10 * time.Second)
	e.checkLog(300)
}

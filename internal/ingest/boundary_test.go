package ingest

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
)

// TestHTTPKeyCannotSquatAnEntry: an idempotency key given through the
// HTTP API (the store receives it as is) that names a future ingest
// entry, "ingest:<ms>-0", does not stop that entry from being published
// when it is appended; the HTTP key keeps working as an ordinary key.
func TestHTTPKeyCannotSquatAnEntry(t *testing.T) {
	e := newEnv(t, stream.Config{})
	ctx := e.ctx()
	id := fmt.Sprintf("%d-0", time.Now().Add(10*time.Minute).UnixMilli())
	squat := stream.PublishInput{Channel: "user:attacker", Event: "squat", IdempotencyKey: "ingest:" + id}
	if _, err := e.store.Publish(ctx, squat); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.XAdd(ctx, &redis.XAddArgs{Stream: e.keys.Stream, ID: id,
		Values: []any{FieldChannel, "user:victim", FieldEvent, "e", FieldData, `{"seq":0}`}}).Err(); err != nil {
		t.Fatal(err)
	}
	c, _ := e.consumer("n1", Config{})
	e.run(c)
	e.waitDrained(10 * time.Second)
	if n := e.rdb.XLen(ctx, e.keys.Dead).Val(); n != 0 {
		dead := e.rdb.XRange(ctx, e.keys.Dead, "-", "+").Val()
		t.Fatalf("the entry was dead-lettered: %v", dead)
	}
	var victim int
	for _, l := range e.log() {
		if l.channel == "user:victim" {
			victim++
		}
	}
	if victim != 1 {
		t.Fatalf("user:victim got %d alarms, want 1 (log %v)", victim, e.log())
	}
	res, err := e.store.Publish(ctx, squat)
	if err != nil || !res.Replayed {
		t.Fatalf("the HTTP key again: %+v, %v, want a replay", res, err)
	}
}

// TestRepeatedFieldIsDeadLettered: an entry that names a field the
// gateway reads twice is refused (a check on the producer's side may have
// read the other one), with every field kept in its dead letter.
func TestRepeatedFieldIsDeadLettered(t *testing.T) {
	e := newEnv(t, stream.Config{})
	bad := [][]any{
		{FieldChannel, "user:ing", FieldChannel, "user:victim", FieldEvent, "e"},
		{FieldChannel, "user:ing", FieldEvent, "e", FieldEvent, "f"},
		{FieldChannel, "user:ing", FieldEvent, "e", FieldData, `{"seq":7}`, FieldData, `{"seq":8}`},
		{FieldChannel, "user:ing", FieldEvent, "e", FieldIdemKey, "a", FieldIdemKey, "b"},
	}
	ids := map[string]int{} // entry id -> its field count
	for _, vals := range bad {
		ids[e.add(vals...)] = len(vals)
	}
	e.add(FieldChannel, "ch0", FieldEvent, "e", FieldData, `{"seq":0}`, "other", "x", "other", "y")
	c, _ := e.consumer("n1", Config{})
	e.run(c)
	e.waitDrained(10 * time.Second)
	e.checkLog(1)
	dead, err := e.rdb.Do(e.ctx(), "XRANGE", e.keys.Dead, "-", "+").Slice()
	if err != nil || len(dead) != len(bad) {
		t.Fatalf("dead letters %v (%v), want %d", dead, err, len(bad))
	}
	for _, d := range dead {
		fields := d.([]any)[1].([]any)
		var reason, id string
		for i := 0; i+1 < len(fields); i += 2 {
			switch fields[i] {
			case FieldReason:
				reason = fields[i+1].(string)
			case FieldID:
				id = fields[i+1].(string)
			}
		}
		if reason != "duplicate_field" || ids[id] == 0 {
			t.Errorf("dead letter %v: reason %q, want duplicate_field", fields, reason)
		}
		if len(fields) != ids[id]+4 {
			t.Errorf("dead letter %v: want the entry's %d fields, reason and id", fields, ids[id])
		}
	}
}

// deliverBetween makes the first XINFO CONSUMERS of the client it hooks
// be followed, before its reply reaches the caller, by deliver: a stale
// holder reading between the trim's look at the consumers and its
// removal of one.
type deliverBetween struct {
	once    sync.Once
	deliver func()
}

func (h *deliverBetween) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *deliverBetween) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

func (h *deliverBetween) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		args := cmd.Args()
		if len(args) > 1 && strings.EqualFold(cmd.Name(), "xinfo") && strings.EqualFold(fmt.Sprint(args[1]), "consumers") {
			h.once.Do(h.deliver)
		}
		return err
	}
}

// TestTrimKeepsConsumerThatJustGotEntries: the trim removes consumers of
// earlier holders that have nothing pending; an entry delivered to one of
// them after the trim looked (a stale holder's last read) must stay
// pending, to be claimed, and not vanish with its consumer.
func TestTrimKeepsConsumerThatJustGotEntries(t *testing.T) {
	e := newEnv(t, stream.Config{})
	ctx := e.ctx()
	hooked := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = hooked.Close() })
	s, err := stream.New(stream.Config{Prefix: e.prefix()}, hooked, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.store = s
	c, _ := e.consumer("n1", Config{})
	if err := c.ensureGroup(ctx); err != nil {
		t.Fatal(err)
	}
	if !c.lease.hold(ctx) {
		t.Fatal("no lease")
	}
	e.add(FieldChannel, "ch0", FieldEvent, "e", FieldData, `{"seq":0}`)
	msgs, err := c.readNew(ctx)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("read %d: %v", len(msgs), err)
	}
	if err := c.settle(ctx, msgs, []string{""}, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.rdb.XGroupCreateConsumer(ctx, e.keys.Stream, c.cfg.Group, "stale").Err(); err != nil {
		t.Fatal(err)
	}
	late := e.add(FieldChannel, "ch0", FieldEvent, "e", FieldData, `{"seq":1}`)
	hooked.AddHook(&deliverBetween{deliver: func() {
		res, err := e.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{Group: c.cfg.Group, Consumer: "stale",
			Streams: []string{e.keys.Stream, ">"}, Count: 1, Block: -1}).Result()
		if err != nil || len(res) != 1 || len(res[0].Messages) != 1 || res[0].Messages[0].ID != late {
			t.Errorf("the stale read: %v, %v", res, err)
		}
	}})
	if err := c.trim(ctx); err != nil {
		t.Fatal(err)
	}
	pend, err := e.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: e.keys.Stream, Group: c.cfg.Group,
		Start: "-", End: "+", Count: 10}).Result()
	if err != nil || len(pend) != 1 || pend[0].ID != late || pend[0].Consumer != "stale" {
		t.Fatalf("pending after the trim: %+v, %v, want %s on stale", pend, err, late)
	}
}

// prefix returns the test's key prefix (stream.Config.Prefix).
func (e *env) prefix() string {
	tag := strings.TrimSuffix(e.keys.Stream, ":ingest")
	return tag[1 : len(tag)-1]
}

// idemRecords returns the idempotency records of the test's prefix.
func (e *env) idemRecords() []string {
	e.t.Helper()
	var out []string
	iter := e.rdb.Scan(e.ctx(), 0, "{"+e.prefix()+"}:*idem*", 1000).Iterator()
	for iter.Next(e.ctx()) {
		out = append(out, iter.Val())
	}
	if err := iter.Err(); err != nil {
		e.t.Fatal(err)
	}
	return out
}

// TestIngestRecordsEndWithTheirEntries: an entry without an idempotency
// key of its own needs its idempotency record only while it is pending
// (until XACK no one can deliver it again): once the group acknowledged
// it, the record is gone; an entry's own key keeps its record, as HTTP
// keys do.
func TestIngestRecordsEndWithTheirEntries(t *testing.T) {
	e := newEnv(t, stream.Config{})
	e.addSeq(300, 5)
	e.add(FieldChannel, "ch0", FieldEvent, "e", FieldData, `{"seq":300}`, FieldIdemKey, "own-key")
	c, _ := e.consumer("n1", Config{BatchSize: 100})
	e.run(c)
	e.waitDrained(10 * time.Second)
	e.checkLog(301)
	recs := e.idemRecords()
	if want := "{" + e.prefix() + "}:idem:own-key"; len(recs) != 1 || recs[0] != want {
		t.Fatalf("idempotency records after the drain: %d %v, want only %s", len(recs), recs[:min(len(recs), 3)], want)
	}
}

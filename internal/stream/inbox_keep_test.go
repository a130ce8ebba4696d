package stream

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// fillInbox publishes n alarms of size bytes of data to ch in batches and
// returns their ids.
func fillInbox(t testing.TB, s *Store, ch string, n, size int) []string {
	t.Helper()
	data := []byte(`"` + strings.Repeat("x", max(size-2, 0)) + `"`)
	ids := make([]string, 0, n)
	for len(ids) < n {
		ins := make([]PublishInput, min(n-len(ids), 500))
		for i := range ins {
			ins[i] = PublishInput{Channel: ch, Event: "e", Data: data}
		}
		res, errs := s.PublishBatch(testCtx(t), ins)
		for i, r := range res {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			ids = append(ids, r.ID.String())
		}
	}
	return ids
}

// TestInboxNoOpCostsNoHistory: a change that changes nothing (mark all
// read when all are read) costs the same on an inbox of 1000 alarms as on
// one of 100.
func TestInboxNoOpCostsNoHistory(t *testing.T) {
	work := map[int]int{}
	for _, n := range []int{100, 1000} {
		s, rdb := newTestStore(t, realRedis, Config{MaxLen: 20000})
		ids := fillInbox(t, s, "user:w", n, 200)
		all := protocol.StateChange{Op: protocol.OpRead, UpTo: ids[n-1]}
		if res, err := s.ChangeState(testCtx(t), "user:w", all); err != nil || res.Changed != n {
			t.Fatalf("read all: %+v %v", res, err)
		}
		work[n] = redisWork(t, rdb, s, func() {
			if res, err := s.ChangeState(testCtx(t), "user:w", all); err != nil || res.Changed != 0 {
				t.Fatalf("no-op: %+v %v", res, err)
			}
		})
	}
	t.Logf("work on 100 alarms %d, on 1000 %d", work[100], work[1000])
	if work[1000] > work[100]+10 {
		t.Fatalf("a no-op change costs %d on 100 alarms, %d on 1000", work[100], work[1000])
	}
}

// TestInboxPageCostsItsLimit: reading one item of an inbox (GET /v1/inbox
// limit=1) costs the same on an inbox of 1000 alarms as on one of 100.
func TestInboxPageCostsItsLimit(t *testing.T) {
	work := map[int]int{}
	for _, n := range []int{100, 1000} {
		s, rdb := newTestStore(t, realRedis, Config{MaxLen: 20000})
		fillInbox(t, s, "user:w", n, 200)
		work[n] = redisWork(t, rdb, s, func() {
			if in, err := s.ReadInbox(testCtx(t), "user:w", InboxQuery{Limit: 1}); err != nil || len(in.Items) == 0 {
				t.Fatalf("read: %v", err)
			}
		})
	}
	t.Logf("work on 100 alarms %d, on 1000 %d", work[100], work[1000])
	if work[1000] > work[100]+10 {
		t.Fatalf("a page of 1 costs %d on 100 alarms, %d on 1000", work[100], work[1000])
	}
}

// TestInboxReadOneByOneKeepsAll: a user who reads 1000 alarms one at a
// time, with ChannelBacklog 1000, still has all 1000: in the inbox, in the
// channel listing (GET /v1/alarms) and in a resume's deep read.
func TestInboxReadOneByOneKeepsAll(t *testing.T) {
	const n = 1000
	s, _ := newTestStore(t, realRedis, Config{MaxLen: 20000, ChannelBacklog: n})
	ch := "user:reader"
	ids := fillInbox(t, s, ch, n, 50)
	for _, id := range ids {
		if res, err := s.ChangeState(testCtx(t), ch, protocol.StateChange{Op: protocol.OpRead, IDs: []string{id}}); err != nil || res.Changed != 1 {
			t.Fatalf("read %s: %+v %v", id, res, err)
		}
	}
	in, err := s.ReadInbox(testCtx(t), ch, InboxQuery{Limit: MaxInboxLimit})
	if err != nil || len(in.Items) != n || in.Counts != (protocol.Counts{}) {
		t.Fatalf("inbox: %d items, counts %+v, %v", len(in.Items), in.Counts, err)
	}
	var listed int
	for after := protocol.Zero; ; {
		h, err := s.ListAlarms(testCtx(t), ch, after, 300)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range h.Alarms {
			if e.IsAlarm() {
				listed++
			}
		}
		if h.Next.IsZero() {
			break
		}
		after = h.Next
	}
	if listed != n {
		t.Fatalf("listing: %d alarms, want %d", listed, n)
	}
	cr, err := s.ReadBacklogs(testCtx(t), []BacklogRead{{Channel: ch}}, 0) // a resume's deep read
	if err != nil {
		t.Fatal(err)
	}
	var resumed int
	for _, e := range cr.Pages[0].Alarms {
		if e.IsAlarm() {
			resumed++
		}
	}
	if err != nil || resumed != n {
		t.Fatalf("deep read: %d alarms, want %d (%v)", resumed, n, err)
	}
}

// TestInboxOutlivesTheLog: an inbox is kept by its own retention, not the
// log's: a user with no alarm for longer than the log's retention still
// finds the unread alarms.
func TestInboxOutlivesTheLog(t *testing.T) {
	s, _ := newTestStore(t, realRedis, Config{Retention: 300 * time.Millisecond})
	ids := fillInbox(t, s, "user:away", 2, 10)
	time.Sleep(time.Second)
	in, err := s.ReadInbox(testCtx(t), "user:away", InboxQuery{})
	if err != nil || len(in.Items) != 2 || in.Items[0].Alarm.ID.String() != ids[1] || in.Counts.Unread != 2 {
		t.Fatalf("inbox after the log's retention: %+v %v", in, err)
	}
}

// TestStateRefusalWritesNothing: a change refused for a missing epoch
// (NOEPOCH) has changed nothing.
func TestStateRefusalWritesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ids := fillInbox(t, s, "user:e", 2, 10)
			rdb.Del(testCtx(t), s.keys.epoch)
			_, err := s.ChangeState(testCtx(t), "user:e", protocol.StateChange{Op: protocol.OpRead, IDs: ids[:1]})
			if err == nil || !strings.Contains(err.Error(), "NOEPOCH") {
				t.Fatalf("change without an epoch: %v", err)
			}
			in, err := s.ReadInbox(testCtx(t), "user:e", InboxQuery{})
			if err != nil || in.Counts != (protocol.Counts{Unread: 2, Unseen: 2}) || in.Items[1].Bits != 0 {
				t.Fatalf("after the refusal: %+v %v", in, err)
			}
		})
	}
}

// TestPublishRefusalWritesNothing: a publish call whose every alarm is
// refused (past its deadline, or its idempotency key used for another
// alarm) writes nothing: not even the epoch or its token record.
func TestPublishRefusalWritesNothing(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			if _, err := s.Publish(ctx, PublishInput{Channel: "user:r", Event: "a", IdempotencyKey: "k1"}); err != nil {
				t.Fatal(err)
			}
			before, _ := rdb.Keys(ctx, "{"+s.cfg.Prefix+"}:*").Result()
			rdb.Del(ctx, s.keys.epoch)
			past := time.Now().Add(-time.Second)
			ins := []PublishInput{{Channel: "user:r", Event: "late"}, {Channel: "user:r", Event: "b", IdempotencyKey: "k1"}}
			_, errs := s.publishBatch(ctx, ins, []time.Time{past, {}})
			if !errors.Is(errs[0], ErrDeadline) || !errors.Is(errs[1], ErrIdemKeyReused) {
				t.Fatalf("errors %v", errs)
			}
			after, _ := rdb.Keys(ctx, "{"+s.cfg.Prefix+"}:*").Result()
			if len(after) != len(before)-1 {
				t.Fatalf("keys before %v (less the epoch), after %v", before, after)
			}
			if n, _ := rdb.Exists(ctx, s.keys.epoch).Result(); n != 0 {
				t.Fatal("a refused publish created the epoch")
			}
		})
	}
}

// TestInboxResumeStateEvents: a resume's deep read of an inbox merges its
// alarms and its retained state events in id order, and is incomplete
// once the state events after its position were compacted away; a
// listing holds the alarms only.
func TestInboxResumeStateEvents(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{StateEvents: 4})
			ctx, ch := testCtx(t), "user:res"
			a := fillInbox(t, s, ch, 3, 10)
			var ev []protocol.ID
			for _, op := range []string{protocol.OpRead, protocol.OpUnread} {
				for _, id := range a {
					res, err := s.ChangeState(ctx, ch, protocol.StateChange{Op: op, IDs: []string{id}})
					if err != nil || res.Changed != 1 {
						t.Fatalf("%s %s: %+v %v", op, id, res, err)
					}
					ev = append(ev, res.ID)
				}
			}
			more := fillInbox(t, s, ch, 1, 10)[0]
			deep := func(after protocol.ID) BacklogPage {
				t.Helper()
				cr, err := s.ReadBacklogs(ctx, []BacklogRead{{Channel: ch, After: after}}, 0)
				if err != nil {
					t.Fatal(err)
				}
				return cr.Pages[0]
			}
			for _, after := range []protocol.ID{protocol.MustParseID(a[0]), protocol.MustParseID(a[2]), ev[0]} {
				if p := deep(after); p.Complete {
					t.Errorf("resume from %s is complete, but the state events after it were compacted: %v", after, entryIDs(p.Alarms))
				}
			}
			p := deep(ev[1]) // the oldest event kept is ev[2]
			want := append(slices.Clone(ev[2:]), protocol.MustParseID(more))
			if !p.Complete || !slices.Equal(entryIDs(p.Alarms), want) {
				t.Fatalf("resume from %s: complete %v, %v, want %v", ev[1], p.Complete, entryIDs(p.Alarms), want)
			}
			h, err := s.ListAlarms(ctx, ch, protocol.MustParseID(a[0]), 10)
			if err != nil || !h.Complete || len(h.Alarms) != 3 || h.Alarms[2].ID.String() != more {
				t.Fatalf("listing %+v %v", h, err)
			}
			// Every key of the inbox lives for the inbox retention.
			ix, ib, se := s.keys.inbox(ch)
			for _, key := range []string{s.keys.backlog(ch), ix, ib, se} {
				if ttl := rdb.PTTL(ctx, key).Val(); ttl < DefaultInboxRetention-time.Minute || ttl > DefaultInboxRetention {
					t.Errorf("%s: TTL %v, want %v", key, ttl, DefaultInboxRetention)
				}
			}
		})
	}
}

// TestInboxAgeTrim: an inbox alarm older than the inbox retention goes at
// the inbox's next publish or change (the frames then carry the counts
// without it), and an inbox with neither for the retention expires whole.
// On miniredis, whose clock the test moves.
func TestInboxAgeTrim(t *testing.T) {
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Prefix: "age", InboxRetention: time.Hour}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, ch := testCtx(t), "user:old"
	now := time.Now()
	advance := func(d time.Duration) {
		now = now.Add(d)
		m.SetTime(now)
		m.FastForward(d)
		if _, err := s.Tip(ctx); err != nil { // measures the clock offset
			t.Fatal(err)
		}
	}
	advance(0)
	a0 := fillInbox(t, s, ch, 1, 10)[0]
	advance(40 * time.Minute)
	a1 := fillInbox(t, s, ch, 1, 10)[0]
	advance(40 * time.Minute) // a0 is 80 minutes old: gone at the next write
	res, err := s.Publish(ctx, PublishInput{Channel: ch, Event: "e"})
	if err != nil {
		t.Fatal(err)
	}
	in := readWholeInbox(t, s, ch)
	if len(in.Items) != 2 || in.Items[1].Alarm.ID.String() != a1 || in.Counts != (protocol.Counts{Unread: 2, Unseen: 2}) {
		t.Fatalf("inbox after %s aged: %+v", a0, in)
	}
	if !strings.HasSuffix(string(in.Items[0].Alarm.Frame), `"unread":2,"unseen":2}`) {
		t.Fatalf("frame %s", in.Items[0].Alarm.Frame)
	}
	if h, err := s.ListAlarms(ctx, ch, protocol.Zero, 10); err != nil || h.Complete || len(h.Alarms) != 2 {
		t.Fatalf("listing after the trim: %+v %v", h, err)
	}
	advance(40 * time.Minute) // a1 is 80 minutes old
	sr, err := s.ChangeState(ctx, ch, protocol.StateChange{Op: protocol.OpRead, IDs: []string{a1, res.ID.String()}})
	if err != nil || sr.Changed != 1 || sr.Counts != (protocol.Counts{}) {
		t.Fatalf("change after %s aged: %+v %v", a1, sr, err)
	}
	if in := readWholeInbox(t, s, ch); len(in.Items) != 1 || in.Items[0].Bits != BitSeen|BitRead {
		t.Fatalf("inbox after the change: %+v", in)
	}
	advance(61 * time.Minute)
	if keys := m.Keys(); len(keys) != 2 { // the log and the epoch
		t.Fatalf("keys after the inbox retention: %v", keys)
	}
	if in := readWholeInbox(t, s, ch); len(in.Items) != 0 || in.Counts != (protocol.Counts{}) {
		t.Fatalf("expired inbox: %+v", in)
	}
}

// TestPublishBatchKeyConflict: an idempotency key repeated in one batch
// with another alarm is refused with the id of the batch's first use.
func TestPublishBatchKeyConflict(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ins := []PublishInput{{Channel: "user:k", Event: "a", IdempotencyKey: "k"}, {Channel: "user:k", Event: "b", IdempotencyKey: "k"}}
			res, errs := s.PublishBatch(testCtx(t), ins)
			if errs[0] != nil || !errors.Is(errs[1], ErrIdemKeyReused) || !strings.Contains(errs[1].Error(), res[0].ID.String()) {
				t.Fatalf("%+v %v", res, errs)
			}
			if n := rdb.XLen(testCtx(t), s.keys.stream).Val(); n != 1 {
				t.Fatalf("stream length %d", n)
			}
		})
	}
}

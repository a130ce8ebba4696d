package stream

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

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
// time, with ChannelHistory 1000, still has all 1000: in the inbox, in the
// channel listing (GET /v1/alarms) and in a resume's deep read.
func TestInboxReadOneByOneKeepsAll(t *testing.T) {
	const n = 1000
	s, _ := newTestStore(t, realRedis, Config{MaxLen: 20000, ChannelHistory: n})
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
		h, err := s.History(testCtx(t), ch, after, 300)
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
	cr, err := s.ReadChannels(testCtx(t), []ChannelRead{{Channel: ch}}, 0) // a resume's deep read
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

var _ = context.Background

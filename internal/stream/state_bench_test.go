package stream

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

// BenchmarkPublishNoInbox is BenchmarkPublish on a channel that is no
// inbox (team:42): the publish without the inbox counters, to compare.
func BenchmarkPublishNoInbox(b *testing.B) {
	s, _ := newTestStore(b, realRedis, Config{MaxLen: 10000})
	ctx := context.Background()
	in := PublishInput{Channel: "team:42", Event: "order.shipped", Data: json.RawMessage(`{"order":7,"status":"shipped"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Publish(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// fullInbox fills user:42's backlog (1000 alarms) and returns their ids.
func fullInbox(b *testing.B, s *Store) []string {
	b.Helper()
	ins := make([]PublishInput, DefaultChannelBacklog)
	for i := range ins {
		ins[i] = PublishInput{Channel: "user:42", Event: "e", Data: json.RawMessage(`{"n":1}`)}
	}
	res, errs := s.PublishBatch(context.Background(), ins)
	ids := make([]string, len(res))
	for i, r := range res {
		if errs[i] != nil {
			b.Fatal(errs[i])
		}
		ids[i] = r.ID.String()
	}
	return ids
}

// BenchmarkStateChange measures one state change by id that changes
// something (read, then unread, alternately): the state script with its
// state event appended to the log, on a full inbox. Every 500 changes a
// new alarm is published to change (0.2 % of the calls).
func BenchmarkStateChange(b *testing.B) {
	s, _ := newTestStore(b, realRedis, Config{MaxLen: 10000})
	ids := fullInbox(b, s)
	target := ids[len(ids)-1]
	ctx := context.Background()
	ops := []string{protocol.OpRead, protocol.OpUnread}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		res, err := s.ChangeState(ctx, "user:42", protocol.StateChange{Op: ops[i%2], IDs: []string{target}})
		if err != nil || res.Changed != 1 {
			b.Fatal(res, err)
		}
		if i++; i%500 == 0 {
			p, err := s.Publish(ctx, PublishInput{Channel: "user:42", Event: "e"})
			if err != nil {
				b.Fatal(err)
			}
			target = p.ID.String()
		}
	}
}

// BenchmarkStateReadAll measures "mark all read" (up_to) on a full inbox
// of 1000 alarms, alternating with "mark all unread", so each call changes
// every alarm: the worst case, O(log n) per alarm changed.
func BenchmarkStateReadAll(b *testing.B) {
	s, _ := newTestStore(b, realRedis, Config{MaxLen: 10000})
	ids := fullInbox(b, s)
	ctx := context.Background()
	ops := []string{protocol.OpRead, protocol.OpUnread}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ChangeState(ctx, "user:42", protocol.StateChange{Op: ops[i%2], UpTo: ids[len(ids)-1]}); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkCounts measures the read a welcome makes for its counts.
func BenchmarkCounts(b *testing.B) {
	s, _ := newTestStore(b, realRedis, Config{MaxLen: 10000})
	fullInbox(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Counts(ctx, "user:42"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadInbox measures GET /v1/inbox's read of a page of a full
// inbox (the default 50).
func BenchmarkReadInbox(b *testing.B) {
	s, _ := newTestStore(b, realRedis, Config{MaxLen: 10000})
	fullInbox(b, s)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.ReadInbox(ctx, "user:42", InboxQuery{}); err != nil {
			b.Fatal(err)
		}
	}
}

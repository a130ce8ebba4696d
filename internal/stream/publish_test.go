package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestPublishFrameIdentity(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			sub := rdb.Subscribe(ctx, s.LiveChannel())
			defer sub.Close()
			if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
				t.Fatal(err)
			}
			in := PublishInput{Channel: "user:42", Event: `order "shipped" ✓`,
				Data: json.RawMessage("{ \"n\" : [1, 2],\n \"s\": \"a\\nb\" }")}
			res, err := s.Publish(ctx, in)
			if err != nil {
				t.Fatal(err)
			}
			if res.Replayed || res.Channel != in.Channel || len(res.Epoch) != 16 || res.ID.IsZero() {
				t.Fatalf("result %+v", res)
			}
			msg, err := sub.ReceiveMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			tail, _ := alarm.EncodeTail(in.Channel, in.Event, in.Data)
			// An inbox alarm (user:*) carries the counts after it.
			tail = append(tail[:len(tail)-1:len(tail)-1], `,"unread":1,"unseen":1}`...)
			// The first entry of the stream: its predecessor is 0-0.
			want := res.Epoch + "\n0-0\n" + string(alarm.Frame(res.ID, tail))
			if msg.Payload != want {
				t.Fatalf("payload\n got %q\nwant %q", msg.Payload, want)
			}
			ep, e, err := alarm.ParsePayload([]byte(msg.Payload))
			if err != nil || ep != res.Epoch || e.ID != res.ID || e.Channel != in.Channel {
				t.Fatalf("ParsePayload = %q %+v %v", ep, e, err)
			}
			raw, err := rdb.XRange(ctx, s.StreamKey(), "-", "+").Result()
			if err != nil || len(raw) != 1 || len(raw[0].Values) != 3 ||
				raw[0].Values["c"] != in.Channel || raw[0].Values["p"] != "0-0" || raw[0].Values["t"] != string(tail) {
				t.Fatalf("stream entry %+v %v", raw, err)
			}
			got, err := s.Range(ctx, protocol.Zero, 10)
			if err != nil || len(got) != 1 || !bytes.Equal(got[0].Frame, e.Frame) {
				t.Fatalf("Range = %+v %v", got, err)
			}
		})
	}
}

func TestPublishIdempotency(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{IdemTTL: time.Hour})
			ctx := testCtx(t)
			in := PublishInput{Channel: "user:1", Event: "e", IdempotencyKey: "key 1/x"}
			first, err := s.Publish(ctx, in)
			if err != nil || first.Replayed {
				t.Fatalf("first = %+v %v", first, err)
			}
			again, err := s.Publish(ctx, in)
			if err != nil || !again.Replayed || again.ID != first.ID || again.Epoch != first.Epoch {
				t.Fatalf("again = %+v %v, first %+v", again, err, first)
			}
			if n := rdb.XLen(ctx, s.StreamKey()).Val(); n != 1 {
				t.Fatalf("stream length %d, want 1", n)
			}
			idemKey := "{" + s.cfg.Prefix + "}:idem:" + in.IdempotencyKey
			if v := rdb.Get(ctx, idemKey).Val(); !strings.HasPrefix(v, first.ID.String()+"\n") {
				t.Fatalf("idem record %q", v)
			}
			if ttl := rdb.PTTL(ctx, idemKey).Val(); ttl <= 0 || ttl > time.Hour {
				t.Fatalf("idem TTL %v", ttl)
			}
			in.IdempotencyKey = "key-2"
			other, err := s.Publish(ctx, in)
			if err != nil || other.Replayed || !first.ID.Less(other.ID) {
				t.Fatalf("other key = %+v %v", other, err)
			}
		})
	}
}

func TestPublishValidationNeverTouchesRedis(t *testing.T) {
	// A client to a closed port: touching Redis would yield ErrUnavailable.
	s := unreachableStore(t)
	long := strings.Repeat("x", 200)
	tests := []struct {
		name string
		in   PublishInput
		want error
	}{
		{"channel", PublishInput{Channel: "a b", Event: "e"}, alarm.ErrInvalidChannel},
		{"empty channel", PublishInput{Event: "e"}, alarm.ErrInvalidChannel},
		{"event", PublishInput{Channel: "c", Event: "a\nb"}, alarm.ErrInvalidEvent},
		{"long event", PublishInput{Channel: "c", Event: long}, alarm.ErrInvalidEvent},
		{"data", PublishInput{Channel: "c", Event: "e", Data: json.RawMessage("{")}, alarm.ErrInvalidData},
		{"idem key", PublishInput{Channel: "c", Event: "e", IdempotencyKey: "a\tb"}, alarm.ErrInvalidIdemKey},
		{"long idem key", PublishInput{Channel: "c", Event: "e", IdempotencyKey: long}, alarm.ErrInvalidIdemKey},
		{"too large", PublishInput{Channel: "c", Event: "e", Data: json.RawMessage(`"` + strings.Repeat("y", 1000) + `"`)}, ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Publish(testCtx(t), tt.in)
			if !errors.Is(err, tt.want) || errors.Is(err, ErrUnavailable) {
				t.Fatalf("Publish: %v, want %v", err, tt.want)
			}
			_, errs := s.PublishBatch(testCtx(t), []PublishInput{tt.in})
			if !errors.Is(errs[0], tt.want) {
				t.Fatalf("PublishBatch: %v, want %v", errs[0], tt.want)
			}
		})
	}
}

func TestPublishBatch(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			ins := []PublishInput{
				{Channel: "user:1", Event: "a"},
				{Channel: "bad channel", Event: "b"},
				{Channel: "user:2", Event: "c", IdempotencyKey: "k1"},
				{Channel: "user:3", Event: ""},
				{Channel: "user:2", Event: "c", IdempotencyKey: "k1"}, // replays item 2
				{Channel: "user:1", Event: "d", Data: json.RawMessage(`[1,`)},
				{Channel: "broadcast", Event: "e", Data: json.RawMessage(`{"x":true}`)},
			}
			wantErr := []error{nil, alarm.ErrInvalidChannel, nil, alarm.ErrInvalidEvent, nil, alarm.ErrInvalidData, nil}
			res, errs := s.PublishBatch(ctx, ins)
			if len(res) != len(ins) || len(errs) != len(ins) {
				t.Fatalf("lengths %d %d", len(res), len(errs))
			}
			for i := range ins {
				if !errors.Is(errs[i], wantErr[i]) || (wantErr[i] == nil) != (errs[i] == nil) {
					t.Errorf("item %d: err %v, want %v", i, errs[i], wantErr[i])
				}
				if errs[i] == nil && (res[i].Channel != ins[i].Channel || res[i].Epoch == "") {
					t.Errorf("item %d: result %+v", i, res[i])
				}
			}
			if !res[0].ID.Less(res[2].ID) || !res[2].ID.Less(res[6].ID) {
				t.Fatalf("ids not in order: %v %v %v", res[0].ID, res[2].ID, res[6].ID)
			}
			if !res[4].Replayed || res[4].ID != res[2].ID || res[2].Replayed {
				t.Fatalf("idempotent replay in batch: %+v %+v", res[2], res[4])
			}
			if n := rdb.XLen(ctx, s.StreamKey()).Val(); n != 3 {
				t.Fatalf("stream length %d, want 3", n)
			}
			// An all-invalid batch does not touch Redis and returns aligned slices.
			res, errs = s.PublishBatch(ctx, ins[1:2])
			if len(res) != 1 || !errors.Is(errs[0], alarm.ErrInvalidChannel) {
				t.Fatalf("invalid-only batch: %+v %v", res, errs)
			}
		})
	}
}

// TestPublishNoScript runs the first publish of a fresh server (no cached
// script): EVALSHA meets NOSCRIPT and falls back to EVAL, also in a batch.
func TestPublishNoScript(t *testing.T) {
	b := backend{"miniredis", false}
	s, _ := newTestStore(t, b, Config{})
	res, errs := s.PublishBatch(testCtx(t), []PublishInput{{Channel: "c", Event: "1"}, {Channel: "c", Event: "2"}})
	if errs[0] != nil || errs[1] != nil || !res[0].ID.Less(res[1].ID) {
		t.Fatalf("batch on fresh server: %+v %v", res, errs)
	}
	s2, _ := newTestStore(t, b, Config{})
	if _, err := s2.Publish(testCtx(t), PublishInput{Channel: "c", Event: "1"}); err != nil {
		t.Fatalf("publish on fresh server: %v", err)
	}
}

func TestParsePublishReply(t *testing.T) {
	ins := []PublishInput{{Channel: "a"}, {Channel: "b"}, {Channel: "c"}, {Channel: "d"}}
	c := &call{idx: []int{0, 1, 2, 3}}
	res, errs := make([]PublishResult, 4), make([]error, 4)
	if err := parsePublishReply("ep\n5-1 0\n5-0 1\n4-0 2\n0-0 3", c, ins, res, errs); err != nil {
		t.Fatalf("good reply: %v", err)
	}
	if res[0] != (PublishResult{ID: protocol.MustParseID("5-1"), Channel: "a", Epoch: "ep"}) || errs[0] != nil {
		t.Errorf("appended: %+v %v", res[0], errs[0])
	}
	if !res[1].Replayed || res[1].ID != protocol.MustParseID("5-0") || errs[1] != nil {
		t.Errorf("replayed: %+v %v", res[1], errs[1])
	}
	if !errors.Is(errs[2], ErrIdemKeyReused) || !errors.Is(errs[3], ErrDeadline) || !errors.Is(errs[3], ErrUnavailable) {
		t.Errorf("refused: %v, %v", errs[2], errs[3])
	}
	one := &call{idx: []int{0}}
	for _, bad := range []string{"", "ep", "\n5-1 0", "ep\nx 0", "ep\n5-1 4", "ep\n5-1", "ep\n5-1 0\n6-1 0", "ep\n5-1 00"} {
		if err := parsePublishReply(bad, one, ins, make([]PublishResult, 4), make([]error, 4)); err == nil {
			t.Errorf("reply %q accepted", bad)
		}
	}
}

// TestPublishMinReplicas: with MinReplicas and no replica to confirm, a
// publish (single or batch) is stored on the primary but answered with
// ErrNotReplicated, which is also ErrUnavailable (503, outcome unknown);
// a retry with the same idempotency key finds the stored alarm.
func TestPublishMinReplicas(t *testing.T) {
	s, rdb := newTestStore(t, backends[0], Config{MinReplicas: 1, ReplicaTimeout: 20 * time.Millisecond})
	ctx := testCtx(t)
	_, err := s.Publish(ctx, PublishInput{Channel: "a", Event: "e", IdempotencyKey: "k1"})
	if !errors.Is(err, ErrNotReplicated) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Publish = %v, want ErrNotReplicated and ErrUnavailable", err)
	}
	_, errs := s.PublishBatch(ctx, []PublishInput{{Channel: "a", Event: "e"}, {Channel: "a", Event: "e", IdempotencyKey: "k1"}})
	for i, err := range errs {
		if !errors.Is(err, ErrNotReplicated) {
			t.Fatalf("batch item %d: %v, want ErrNotReplicated", i, err)
		}
	}
	if n := rdb.XLen(ctx, s.StreamKey()).Val(); n != 2 {
		t.Fatalf("stream holds %d alarms, want 2 (stored on the primary, one key replayed)", n)
	}
	if _, err := New(Config{MinReplicas: 1, ReplicaTimeout: 3 * time.Second}, rdb, nil); err == nil {
		t.Fatal("New accepted ReplicaTimeout >= Timeout")
	}
}

// TestPublishBatchCalls: a batch larger than one script call carries is
// split into calls in one pipeline; the log stays in order and each entry
// names the one before it as its predecessor, across calls too.
func TestPublishBatchCalls(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := testCtx(t)
			s, rdb := newTestStore(t, b, Config{})
			publishN(t, s, 1)
			sub := rdb.Subscribe(ctx, s.LiveChannel())
			defer sub.Close()
			if _, err := sub.Receive(ctx); err != nil { // subscription confirmed
				t.Fatal(err)
			}
			ins := make([]PublishInput, 2*maxCallItems+3)
			for i := range ins {
				ins[i] = PublishInput{Channel: fmt.Sprintf("user:%d", i%7), Event: strconv.Itoa(i)}
			}
			res, errs := s.PublishBatch(ctx, ins)
			for i := range ins {
				if errs[i] != nil || (i > 0 && !res[i-1].ID.Less(res[i].ID)) {
					t.Fatalf("item %d: %+v %v (before: %+v)", i, res[i], errs[i], res[max(i-1, 0)])
				}
			}
			entries, err := rdb.XRange(ctx, s.keys.stream, "-", "+").Result()
			if err != nil {
				t.Fatal(err)
			}
			if len(entries) != len(ins)+1 {
				t.Fatalf("stream holds %d entries, want %d", len(entries), len(ins)+1)
			}
			for i := 1; i < len(entries); i++ {
				if p := entries[i].Values["p"]; p != entries[i-1].ID {
					t.Fatalf("entry %d (%s) names %v as predecessor, want %s", i, entries[i].ID, p, entries[i-1].ID)
				}
			}
			// One live message per call, holding its alarms after the
			// predecessor of the first.
			next := 1
			for _, size := range []int{maxCallItems, maxCallItems, 3} {
				msg, err := sub.ReceiveMessage(ctx)
				if err != nil {
					t.Fatal(err)
				}
				l, err := alarm.ParseLive([]byte(msg.Payload))
				if err != nil || len(l.Entries) != size || l.Pred.String() != entries[next-1].ID {
					t.Fatalf("message of %d entries after %v (%v), want %d after %s", len(l.Entries), l.Pred, err, size, entries[next-1].ID)
				}
				for _, e := range l.Entries {
					if e.ID.String() != entries[next].ID {
						t.Fatalf("message holds %v, want %s", e.ID, entries[next].ID)
					}
					next++
				}
			}
		})
	}
}

// TestPublishBatchDeadlines: items share a script call but each keeps its
// caller's deadline; one past it is refused (ErrDeadline, nothing
// written) while the others are appended.
func TestPublishBatchDeadlines(t *testing.T) {
	ctx := testCtx(t)
	s, rdb := newTestStore(t, backends[0], Config{})
	past, future := time.Now().Add(-time.Second), time.Now().Add(time.Minute)
	ins := []PublishInput{{Channel: "user:1", Event: "a"}, {Channel: "user:1", Event: "late"}, {Channel: "user:1", Event: "b"}}
	res, errs := s.publishBatch(ctx, ins, []time.Time{future, past, {}})
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], ErrDeadline) || !errors.Is(errs[1], ErrUnavailable) {
		t.Fatalf("errors %v, want only item 1 refused with ErrDeadline", errs)
	}
	if ids := allIDs(t, rdb, s.keys.stream); len(ids) != 2 || ids[0] != res[0].ID || ids[1] != res[2].ID {
		t.Fatalf("stream holds %v, want %v and %v", ids, res[0].ID, res[2].ID)
	}
}

// TestPublishClockSkew: a Redis whose clock runs ahead of the node's would
// find every deadline past and refuse every publish; once Tip has measured
// the offset, deadlines are given in Redis' time.
func TestPublishClockSkew(t *testing.T) {
	m := miniredis.RunT(t)
	m.SetTime(time.Now().Add(10 * time.Second))
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Prefix: "skew"}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	in := PublishInput{Channel: "user:1", Event: "e"}
	if _, err := s.Publish(ctx, in); !errors.Is(err, ErrDeadline) {
		t.Fatalf("before the clock is measured: %v, want ErrDeadline", err)
	}
	change := protocol.StateChange{Op: protocol.OpRead, IDs: []string{"1-0"}}
	if _, err := s.ChangeState(ctx, "user:1", change); !errors.Is(err, ErrDeadline) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("state change before the clock is measured: %v, want ErrDeadline (an ErrUnavailable)", err)
	}
	if _, err := s.Tip(ctx); err != nil {
		t.Fatal(err)
	}
	if skew := time.Duration(s.skew.Load()); skew < 9*time.Second || skew > 11*time.Second {
		t.Fatalf("measured skew %v, want about 10s", skew)
	}
	if _, err := s.Publish(ctx, in); err != nil {
		t.Fatalf("after Tip: %v", err)
	}
	if _, errs := s.PublishBatch(ctx, []PublishInput{in, in}); errs[0] != nil || errs[1] != nil {
		t.Fatalf("batch after Tip: %v", errs)
	}
	if _, err := s.ChangeState(ctx, "user:1", change); err != nil {
		t.Fatalf("state change after Tip: %v", err)
	}
}

package stream

import (
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// TestIngestGroup runs the ingest group's commands on the real Redis:
// NOGROUP is ErrNoGroup, Create is idempotent, entries are read, claimed,
// dead-lettered, acknowledged and trimmed, and the lease is held by one
// token at a time.
func TestIngestGroup(t *testing.T) {
	s, rdb := newTestStore(t, backend{"redis", true}, Config{})
	ctx := testCtx(t)
	g := s.IngestGroup("g", 100)
	if _, err := g.ReadNew(ctx, "c1", 10, time.Millisecond); !errors.Is(err, ErrNoGroup) {
		t.Fatalf("ReadNew without a group: %v, want ErrNoGroup", err)
	}
	for range 2 {
		if err := g.Create(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range []string{"a", "b", "c"} {
		if err := g.Add(ctx, IngestFields{"channel", v}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := g.ReadNew(ctx, "c1", 2, time.Millisecond)
	if err != nil || len(got) != 2 || len(got[0].Fields) != 1 || got[0].Fields[0] != (IngestField{"channel", "a"}) {
		t.Fatalf("ReadNew = %+v, %v", got, err)
	}
	pend, err := g.Pending(ctx, 10)
	if err != nil || len(pend) != 2 || pend[0].Consumer != "c1" || pend[0].ID != got[0].ID {
		t.Fatalf("Pending = %+v, %v", pend, err)
	}
	claimed, err := g.Claim(ctx, "c2", []string{got[0].ID})
	if err != nil || len(claimed) != 1 || claimed[0].ID != got[0].ID {
		t.Fatalf("Claim = %+v, %v", claimed, err)
	}
	if err := g.Settle(ctx, "c2", []IngestFields{{"reason", "x"}}, []IngestAck{{ID: got[0].ID}}); err != nil {
		t.Fatal(err)
	}
	if n := rdb.XLen(ctx, g.Keys().Dead).Val(); n != 1 {
		t.Fatalf("dead letters %d, want 1", n)
	}
	if oldest, err := g.OldestPending(ctx); err != nil || oldest != got[1].ID {
		t.Fatalf("OldestPending = %q, %v, want %s", oldest, err, got[1].ID)
	}
	info, err := g.Info(ctx)
	if err != nil || info.Pending != 1 || info.LastDelivered != got[1].ID {
		t.Fatalf("Info = %+v, %v", info, err)
	}
	if n, err := g.CountAfter(ctx, info.LastDelivered, 10); err != nil || n != 1 {
		t.Fatalf("CountAfter = %d, %v, want 1", n, err)
	}
	if err := g.TrimBelow(ctx, got[1].ID); err != nil || rdb.XLen(ctx, g.Keys().Stream).Val() != 2 {
		t.Fatalf("TrimBelow: %v, len %d, want 2", err, rdb.XLen(ctx, g.Keys().Stream).Val())
	}
	if ok, err := g.DeleteConsumer(ctx, "c2"); !ok || err != nil {
		t.Fatalf("DeleteConsumer c2 (nothing pending) = %v, %v", ok, err)
	}
	if ok, err := g.DeleteConsumer(ctx, "c1"); ok || err != nil {
		t.Fatalf("DeleteConsumer c1 (1 pending) = %v, %v, want false", ok, err)
	}
	if cs, err := g.Consumers(ctx); err != nil || len(cs) != 1 || cs[0].Name != "c1" || cs[0].Pending != 1 {
		t.Fatalf("Consumers = %+v, %v", cs, err)
	}

	if ok, err := g.AcquireLease(ctx, "t1", time.Minute); !ok || err != nil {
		t.Fatalf("AcquireLease t1 = %v, %v", ok, err)
	}
	if ok, err := g.AcquireLease(ctx, "t2", time.Minute); ok || err != nil {
		t.Fatalf("AcquireLease t2 while held = %v, %v", ok, err)
	}
	if ok, err := g.RenewLease(ctx, "t2", time.Minute); ok || err != nil {
		t.Fatalf("RenewLease by another token = %v, %v", ok, err)
	}
	if ok, err := g.RenewLease(ctx, "t1", time.Minute); !ok || err != nil {
		t.Fatalf("RenewLease t1 = %v, %v", ok, err)
	}
	if err := g.ReleaseLease(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if ok, err := g.AcquireLease(ctx, "t2", time.Minute); !ok || err != nil {
		t.Fatalf("AcquireLease t2 after release = %v, %v", ok, err)
	}
}

// TestIngestGroupFieldsAsGiven: reads and claims keep an entry's fields
// in order, a repeated name twice, whether the read found the entries at
// once or had to wait for them.
func TestIngestGroupFieldsAsGiven(t *testing.T) {
	for _, proto := range []int{2, 3} { // XREADGROUP's reply is a map in RESP3
		t.Run("RESP"+strconv.Itoa(proto), func(t *testing.T) {
			rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), Protocol: proto, ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = rdb.Close() })
			s, err := New(Config{Prefix: testutil.Prefix(t)}, rdb, nil)
			if err != nil {
				t.Fatal(err)
			}
			testFieldsAsGiven(t, s, rdb)
		})
	}
}

func testFieldsAsGiven(t *testing.T, s *Store, rdb redis.UniversalClient) {
	ctx := testCtx(t)
	g := s.IngestGroup("g", 100)
	if err := g.Create(ctx); err != nil {
		t.Fatal(err)
	}
	f := IngestFields{"channel", "a", "event", "e", "channel", "b"}
	want := []IngestField{{"channel", "a"}, {"event", "e"}, {"channel", "b"}}
	if err := g.Add(ctx, f); err != nil {
		t.Fatal(err)
	}
	got, err := g.ReadNew(ctx, "c1", 10, time.Millisecond)
	if err != nil || len(got) != 1 || !slices.Equal(got[0].Fields, want) {
		t.Fatalf("ReadNew = %+v, %v, want the fields %v", got, err, want)
	}
	claimed, err := g.Claim(ctx, "c2", []string{got[0].ID})
	if err != nil || len(claimed) != 1 || !slices.Equal(claimed[0].Fields, want) {
		t.Fatalf("Claim = %+v, %v", claimed, err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		_ = g.Add(ctx, f)
		_ = g.Add(ctx, IngestFields{"channel", "c"})
	}()
	got, err = g.ReadNew(ctx, "c1", 10, 2*time.Second)
	if err != nil || len(got) == 0 || !slices.Equal(got[0].Fields, want) {
		t.Fatalf("ReadNew that waited = %+v, %v", got, err)
	}
	if len(got) == 1 {
		got, err = g.ReadNew(ctx, "c1", 10, time.Millisecond)
		if err != nil || len(got) != 1 || got[0].Fields[0] != (IngestField{"channel", "c"}) {
			t.Fatalf("ReadNew after = %+v, %v", got, err)
		}
	}
	if n := rdb.XLen(ctx, g.Keys().Stream).Val(); n != 3 {
		t.Fatalf("stream holds %d entries, want 3", n)
	}
}

// TestIngestGroupSettleOwnEntriesOnly: Settle acknowledges the entries
// still pending on its consumer and deletes their entry idempotency
// records; an entry another consumer claimed meanwhile keeps both.
func TestIngestGroupSettleOwnEntriesOnly(t *testing.T) {
	s, rdb := newTestStore(t, backend{"redis", true}, Config{})
	ctx := testCtx(t)
	g := s.IngestGroup("g", 100)
	if err := g.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"a", "b"} {
		if err := g.Add(ctx, IngestFields{"channel", v, "event", "e"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := g.ReadNew(ctx, "c1", 10, time.Millisecond)
	if err != nil || len(got) != 2 {
		t.Fatalf("ReadNew = %+v, %v", got, err)
	}
	ins := []PublishInput{{Channel: "a", Event: "e", EntryID: got[0].ID}, {Channel: "b", Event: "e", EntryID: got[1].ID}}
	if _, errs := s.PublishBatch(ctx, ins); errors.Join(errs...) != nil {
		t.Fatal(errors.Join(errs...))
	}
	records := func() int64 {
		return rdb.Exists(ctx, s.keys.ingest.entryIdem(1, 0, got[0].ID), s.keys.ingest.entryIdem(1, 0, got[1].ID)).Val()
	}
	if n := records(); n != 2 {
		t.Fatalf("%d entry records after the publish, want 2", n)
	}
	if _, err := g.Claim(ctx, "c2", []string{got[1].ID}); err != nil {
		t.Fatal(err)
	}
	if err := g.Settle(ctx, "c1", nil, []IngestAck{{ID: got[0].ID}, {ID: got[1].ID}}); err != nil {
		t.Fatal(err)
	}
	pend, err := g.Pending(ctx, 10)
	if err != nil || len(pend) != 1 || pend[0].ID != got[1].ID || pend[0].Consumer != "c2" {
		t.Fatalf("Pending = %+v, %v, want only %s on c2", pend, err, got[1].ID)
	}
	if rdb.Exists(ctx, s.keys.ingest.entryIdem(1, 0, got[0].ID)).Val() != 0 || rdb.Exists(ctx, s.keys.ingest.entryIdem(1, 0, got[1].ID)).Val() != 1 {
		t.Fatal("Settle deleted the wrong records")
	}
}

// TestParseIngestReplies: malformed replies are errors, not entries.
func TestParseIngestReplies(t *testing.T) {
	entry := []any{"1-0", []any{"channel", "a", "channel", "b"}}
	for _, tc := range []struct {
		name string
		res  any
		n    int
		ok   bool
	}{
		{"RESP2", []any{[]any{"k", []any{entry}}}, 1, true},
		{"RESP3", map[any]any{"k": []any{entry}}, 1, true},
		{"nothing", nil, 0, true},
		{"deleted entry", []any{[]any{"k", []any{[]any{"2-0", nil}, entry}}}, 1, true},
		{"odd fields", []any{[]any{"k", []any{[]any{"1-0", []any{"channel"}}}}}, 0, false},
		{"not a string", []any{[]any{"k", []any{[]any{"1-0", []any{"channel", int64(1)}}}}}, 0, false},
		{"two streams", map[any]any{"k": []any{entry}, "l": []any{entry}}, 0, false},
		{"not a list", "OK", 0, false},
	} {
		got, err := parseRead(tc.res)
		if (err == nil) != tc.ok || len(got) != tc.n {
			t.Errorf("%s: %+v, %v", tc.name, got, err)
		}
	}
}

package stream

import (
	"errors"
	"testing"
	"time"
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
	if err != nil || len(got) != 2 || got[0].Values["channel"] != "a" {
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
	if err := g.Settle(ctx, []IngestFields{{"reason", "x"}}, []string{got[0].ID}); err != nil {
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
	if err := g.DeleteConsumer(ctx, "c2"); err != nil {
		t.Fatal(err)
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

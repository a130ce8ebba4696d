package stream

import (
	"encoding/hex"
	"testing"
)

func TestEnsureEpoch(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			e1, err := s.EnsureEpoch(ctx)
			if _, herr := hex.DecodeString(e1); err != nil || len(e1) != 16 || herr != nil {
				t.Fatalf("EnsureEpoch = %q %v", e1, err)
			}
			if e2, err := s.EnsureEpoch(ctx); err != nil || e2 != e1 {
				t.Fatalf("second EnsureEpoch = %q %v, want %q", e2, err, e1)
			}
			if ttl := rdb.TTL(ctx, s.EpochKey()).Val(); ttl != -1 {
				t.Fatalf("epoch TTL %v, want none", ttl)
			}
			if r := publishN(t, s, 1)[0]; r.Epoch != e1 {
				t.Fatalf("publish epoch %q, want %q", r.Epoch, e1)
			}
		})
	}
}

func TestRotateEpoch(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			// Absent: rotation creates one.
			e0, err := s.RotateEpoch(ctx, "gone")
			if err != nil || len(e0) != 16 || e0 == "gone" {
				t.Fatalf("rotate absent = %q %v", e0, err)
			}
			// Two nodes rotating from the same old epoch agree.
			e1, err1 := s.RotateEpoch(ctx, e0)
			e2, err2 := s.RotateEpoch(ctx, e0)
			if err1 != nil || err2 != nil || e1 == e0 || e1 != e2 {
				t.Fatalf("rotations %q %v, %q %v from %q", e1, err1, e2, err2, e0)
			}
			if cur := rdb.Get(ctx, s.EpochKey()).Val(); cur != e1 {
				t.Fatalf("stored epoch %q, want %q", cur, e1)
			}
			// A stale old epoch changes nothing.
			if e3, err := s.RotateEpoch(ctx, "stale"); err != nil || e3 != e1 {
				t.Fatalf("stale rotation = %q %v, want %q", e3, err, e1)
			}
			if r := publishN(t, s, 1)[0]; r.Epoch != e1 {
				t.Fatalf("publish epoch %q, want %q", r.Epoch, e1)
			}
			if tip, _ := s.Tip(ctx); tip.Epoch != e1 {
				t.Fatalf("tip epoch %q", tip.Epoch)
			}
		})
	}
}

package stream

import (
	"errors"
	"slices"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

func idsOn(pub []PublishResult, channel string) []protocol.ID {
	var ids []protocol.ID
	for _, r := range pub {
		if r.Channel == channel {
			ids = append(ids, r.ID)
		}
	}
	return ids
}

func TestHistory(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := newTestStore(t, b, Config{PageSize: 4})
			ctx := testCtx(t)
			empty, err := s.History(ctx, "a", protocol.Zero, 10)
			if err != nil || len(empty.Alarms) != 0 || !empty.Complete || empty.Epoch != "" {
				t.Fatalf("missing stream: %+v %v", empty, err)
			}
			pub := publishN(t, s, 30, "a", "b", "b")
			onA := idsOn(pub, "a") // 10 alarms
			tests := []struct {
				name  string
				after protocol.ID
				limit int
				want  []protocol.ID
			}{
				{"all", protocol.Zero, 100, onA},
				{"limit", protocol.Zero, 3, onA[:3]},
				{"after", onA[2], 3, onA[3:6]},
				{"after non-a id", pub[4].ID, 100, onA[2:]},
				{"tail", onA[9], 100, nil},
				{"default limit", protocol.Zero, 0, onA},
			}
			for _, tt := range tests {
				h, err := s.History(ctx, "a", tt.after, tt.limit)
				if err != nil || !slices.Equal(entryIDs(h.Alarms), tt.want) || !h.Next.IsZero() || h.Epoch != pub[0].Epoch {
					t.Errorf("%s: %v next %v epoch %q err %v; want %v", tt.name, entryIDs(h.Alarms), h.Next, h.Epoch, err, tt.want)
				}
				for _, e := range h.Alarms {
					if e.Channel != "a" {
						t.Errorf("%s: alarm on %q", tt.name, e.Channel)
					}
				}
				// Nothing was trimmed: complete, except that miniredis cannot
				// tell and after = Zero then says incomplete.
				wantComplete := b.real || !tt.after.IsZero()
				if h.Complete != wantComplete {
					t.Errorf("%s: complete %v, want %v", tt.name, h.Complete, wantComplete)
				}
			}
			if _, err := s.History(ctx, "bad channel", protocol.Zero, 1); !errors.Is(err, alarm.ErrInvalidChannel) {
				t.Fatalf("invalid channel: %v", err)
			}
		})
	}
}

// TestHistoryScanBudget: with PageSize 1 a rare channel behind more than
// 100 other alarms is not reached in one call; Next lets the caller go on.
func TestHistoryScanBudget(t *testing.T) {
	s, _ := newTestStore(t, backend{"miniredis", false}, Config{PageSize: 1})
	ctx := testCtx(t)
	pub := publishN(t, s, historyScanPages+20, "busy")
	rare := publishN(t, s, 1, "rare")[0]
	h, err := s.History(ctx, "rare", protocol.Zero, 10)
	if err != nil || len(h.Alarms) != 0 || h.Next != pub[historyScanPages-1].ID {
		t.Fatalf("first call: %v next %v err %v", entryIDs(h.Alarms), h.Next, err)
	}
	h, err = s.History(ctx, "rare", h.Next, 10)
	if err != nil || len(h.Alarms) != 1 || h.Alarms[0].ID != rare.ID || !h.Next.IsZero() || !h.Complete {
		t.Fatalf("continuation: %+v %v", h, err)
	}
}

func TestHistoryCompleteAfterTrimming(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{MaxLen: 10, PageSize: 50})
			ctx := testCtx(t)
			pub := publishN(t, s, 200, "a", "b")
			first := allIDs(t, rdb, s.StreamKey())[0]
			tests := []struct {
				name     string
				after    protocol.ID
				complete bool
			}{
				{"zero", protocol.Zero, false},
				{"trimmed away", pub[0].ID, false},
				{"just before first", first.Prev(), true},
				{"first", first, true},
				{"newest", pub[199].ID, true},
			}
			for _, tt := range tests {
				h, err := s.History(ctx, "a", tt.after, 1000)
				if err != nil || h.Complete != tt.complete {
					t.Errorf("%s (after %v, first %v): complete %v err %v; want %v", tt.name, tt.after, first, h.Complete, err, tt.complete)
				}
				for _, e := range h.Alarms {
					if !tt.after.Less(e.ID) || e.Channel != "a" {
						t.Errorf("%s: unexpected alarm %v on %q", tt.name, e.ID, e.Channel)
					}
				}
			}
		})
	}
}

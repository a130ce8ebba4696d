package transport

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/protocol"
)

// feed is a Feed whose SyncNow applies next to the hub.
type feed struct {
	h     *hub.Hub
	next  []alarm.Entry
	syncs int
}

func (f *feed) Ready() bool { return true }
func (f *feed) SyncNow() {
	f.syncs++
	f.h.ApplyBatch(f.next)
}

func entry(t *testing.T, id string) alarm.Entry {
	t.Helper()
	tail, err := alarm.EncodeTail("a", "e", nil)
	if err != nil {
		t.Fatal(err)
	}
	return alarm.NewEntry(protocol.MustParseID(id), "a", tail)
}

func TestResumerRequest(t *testing.T) {
	h, err := hub.New(hub.Config{NodeID: "n", Window: 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset("E", []alarm.Entry{entry(t, "1-0")}, protocol.Zero)
	str := func(s string) *string { return &s }
	tests := []struct {
		name      string
		lastID    *string
		epoch     string
		next      []alarm.Entry
		want      hub.Resume
		wantSyncs int
	}{
		{"none", nil, "", nil, hub.Resume{}, 0},
		{"invalid", str("x"), "E", nil, hub.Resume{Epoch: "E", Invalid: true}, 0},
		{"behind", str("1-0"), "E", nil, hub.Resume{Epoch: "E", LastID: protocol.MustParseID("1-0"), HasLastID: true}, 0},
		{"ahead, caught up", str("2-0"), "E", []alarm.Entry{entry(t, "2-0")},
			hub.Resume{Epoch: "E", LastID: protocol.MustParseID("2-0"), HasLastID: true}, 1},
		{"ahead in another epoch", str("9-0"), "F", nil,
			hub.Resume{Epoch: "F", LastID: protocol.MustParseID("9-0"), HasLastID: true}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &feed{h: h, next: tt.next}
			r := Resumer{Hub: h, Feed: f, CatchUpTimeout: time.Second}
			if got := r.Request(context.Background(), tt.lastID, tt.epoch); got != tt.want || f.syncs != tt.wantSyncs {
				t.Fatalf("Request = %+v after %d syncs, want %+v after %d", got, f.syncs, tt.want, tt.wantSyncs)
			}
		})
	}
	// Still ahead after the catch-up: Request returns within CatchUpTimeout.
	r := Resumer{Hub: h, Feed: &feed{h: h}, CatchUpTimeout: 20 * time.Millisecond}
	start := time.Now()
	r.Request(context.Background(), str("8-0"), "E")
	if d := time.Since(start); d < 20*time.Millisecond || d > time.Second {
		t.Fatalf("Request for an id never applied took %v, want CatchUpTimeout", d)
	}
}

func TestResumeClose(t *testing.T) {
	if code, _ := ResumeClose(fmt.Errorf("x: %w", hub.ErrEpochChanged)); code != protocol.CloseRestart {
		t.Errorf("moved: %d, want 1012", code)
	}
	if code, _ := ResumeClose(errors.New("redis down")); code != protocol.CloseTryLater {
		t.Errorf("failed read: %d, want 1013", code)
	}
	if got := CloseLabel(protocol.CloseSlowClient); got != "4029" {
		t.Errorf("CloseLabel = %q", got)
	}
}

func TestJitter(t *testing.T) {
	for range 100 {
		if d := Jitter(time.Second); d < time.Second || d > 1200*time.Millisecond {
			t.Fatalf("Jitter(1s) = %v, want 1s..1.2s", d)
		}
	}
}

package transport

import (
	"errors"
	"fmt"
	"testing"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// readyFeed is a Feed whose readiness the test sets.
type readyFeed struct{ ready bool }

func (f *readyFeed) Ready() bool { return f.ready }
func (f *readyFeed) SyncNow()    {}

func newTestPartitions(t *testing.T, n int) (Partitions, []*readyFeed) {
	t.Helper()
	parts := make([]Partition, n)
	feeds := make([]*readyFeed, n)
	for k := range parts {
		h, err := hub.New(hub.Config{NodeID: "n", Window: 10}, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		feeds[k] = &readyFeed{ready: true}
		parts[k] = Partition{Hub: h, Feed: feeds[k]}
	}
	p, err := NewPartitions(parts, 0)
	if err != nil {
		t.Fatal(err)
	}
	return p, feeds
}

func TestPartitionsFor(t *testing.T) {
	one, _ := newTestPartitions(t, 1)
	three, _ := newTestPartitions(t, 3)
	tests := []struct {
		name     string
		p        Partitions
		sub      string
		channels []string
		wantErr  error
	}{
		{"one partition serves any token", one, "alice", []string{"user:bob", "team:x"}, nil},
		{"own inbox and shared channels", three, "alice", []string{"user:alice", "team:x", "broadcast"}, nil},
		{"no extra channels", three, "bob", nil, nil},
		{"another subject's inbox is refused", three, "alice", []string{"team:x", "user:bob"}, ErrOtherPartition},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := tt.p.For(tt.sub, tt.channels)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("For: err %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			k, _ := stream.PartitionOf("user:"+tt.sub, tt.p.Len())
			if r != &tt.p.parts[k] {
				t.Fatalf("For(%q) is not partition %d", tt.sub, k)
			}
		})
	}
}

// TestPartitionsSpread checks that subjects reach every partition, each
// served from the one stream.PartitionOf names.
func TestPartitionsSpread(t *testing.T) {
	p, _ := newTestPartitions(t, 3)
	seen := map[*Resumer]bool{}
	for i := range 30 {
		r, err := p.For(fmt.Sprintf("u%d", i), nil)
		if err != nil {
			t.Fatal(err)
		}
		seen[r] = true
	}
	if len(seen) != 3 {
		t.Fatalf("30 subjects reached %d of 3 partitions", len(seen))
	}
}

func TestPartitionsReady(t *testing.T) {
	p, feeds := newTestPartitions(t, 3)
	if !p.Ready() {
		t.Fatal("not ready with every feed ready")
	}
	feeds[2].ready = false
	if p.Ready() {
		t.Fatal("ready with partition 2's feed behind")
	}
}

func TestNewPartitionsRefuses(t *testing.T) {
	h, err := hub.New(hub.Config{NodeID: "n", Window: 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, parts := range map[string][]Partition{
		"none":       nil,
		"no feed":    {{Hub: h}},
		"no hub":     {{Feed: &readyFeed{}}},
		"beyond max": make([]Partition, stream.MaxPartitions+1),
	} {
		if _, err := NewPartitions(parts, 0); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

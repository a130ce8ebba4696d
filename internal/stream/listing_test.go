package stream

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

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

func TestListAlarms(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := newTestStore(t, b, Config{PageSize: 4})
			ctx := testCtx(t)
			recent := protocol.ID{MS: uint64(time.Now().UnixMilli())}
			empty, err := s.ListAlarms(ctx, "a", recent, 10)
			if err != nil || len(empty.Alarms) != 0 || !empty.Complete || empty.Epoch != "" {
				t.Fatalf("missing channel, recent after: %+v %v", empty, err)
			}
			pub := publishN(t, s, 30, "a", "b", "b")
			onA := idsOn(pub, "a") // 10 alarms
			tests := []struct {
				name     string
				after    protocol.ID
				limit    int
				want     []protocol.ID
				next     protocol.ID
				complete bool
			}{
				// A new backlog's floor is its first alarm's time less the
				// retention: it cannot know what an expired one held.
				{"all", protocol.Zero, 100, onA, protocol.Zero, false},
				{"limit", protocol.Zero, 3, onA[:3], onA[2], false},
				{"after", onA[2], 3, onA[3:6], onA[5], true},
				{"after non-a id", pub[4].ID, 100, onA[2:], protocol.Zero, true},
				{"exactly the rest", onA[6], 3, onA[7:], protocol.Zero, true},
				{"tail", onA[9], 100, nil, protocol.Zero, true},
				{"default limit", onA[0], 0, onA[1:], protocol.Zero, true},
			}
			for _, tt := range tests {
				h, err := s.ListAlarms(ctx, "a", tt.after, tt.limit)
				if err != nil || !slices.Equal(entryIDs(h.Alarms), tt.want) || h.Next != tt.next ||
					h.Epoch != pub[0].Epoch || h.Complete != tt.complete {
					t.Errorf("%s: %v next %v complete %v epoch %q err %v; want %v next %v complete %v",
						tt.name, entryIDs(h.Alarms), h.Next, h.Complete, h.Epoch, err, tt.want, tt.next, tt.complete)
				}
				for _, e := range h.Alarms {
					if e.Channel != "a" || !strings.HasPrefix(string(e.Frame), `{"type":"alarm","id":"`+e.ID.String()+`"`) ||
						!strings.Contains(string(e.Frame), `"channel":"a","event":"e"`) {
						t.Errorf("%s: alarm %s on %q", tt.name, e.Frame, e.Channel)
					}
				}
			}
			if _, err := s.ListAlarms(ctx, "bad channel", protocol.Zero, 1); !errors.Is(err, alarm.ErrInvalidChannel) {
				t.Fatalf("invalid channel: %v", err)
			}
		})
	}
}

// TestBacklogDepth: a channel keeps its newest ChannelBacklog alarms
// however long the log is, and knows exactly from where it is complete.
func TestBacklogDepth(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := newTestStore(t, b, Config{MaxLen: 10, ChannelBacklog: 5})
			ctx := testCtx(t)
			pub := publishN(t, s, 40, "a", "b") // 20 on a; the log keeps about 10
			onA := idsOn(pub, "a")
			tests := []struct {
				name     string
				after    protocol.ID
				want     []protocol.ID
				complete bool
			}{
				{"zero", protocol.Zero, onA[15:], false},
				{"trimmed away", onA[13], onA[15:], false},
				{"floor", onA[14], onA[15:], true},
				{"inside", onA[16], onA[17:], true},
				{"newest", onA[19], nil, true},
			}
			for _, tt := range tests {
				h, err := s.ListAlarms(ctx, "a", tt.after, 1000)
				if err != nil || h.Complete != tt.complete || !slices.Equal(entryIDs(h.Alarms), tt.want) {
					t.Errorf("%s: %v complete %v err %v; want %v complete %v",
						tt.name, entryIDs(h.Alarms), h.Complete, err, tt.want, tt.complete)
				}
			}
		})
	}
}

// TestReadBacklogs reads several channels' backlogs in one call, each
// with its own completeness.
func TestReadBacklogs(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{ChannelBacklog: 3})
	ctx := testCtx(t)
	pub := publishN(t, s, 12, "a", "b", "b", "b") // 3 on a, 9 on b
	after := pub[0].ID
	res, err := s.ReadBacklogs(ctx, []BacklogRead{{"a", after}, {"b", after}, {"none", after}, {"b", pub[10].ID}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	onA, onB := idsOn(pub, "a"), idsOn(pub, "b")
	want := []struct {
		ids      []protocol.ID
		complete bool
	}{{onA[1:], true}, {onB[6:], false}, {nil, true}, {onB[8:], true}}
	if res.Epoch != pub[0].Epoch || len(res.Pages) != 4 {
		t.Fatalf("epoch %q pages %d", res.Epoch, len(res.Pages))
	}
	for i, w := range want {
		p := res.Pages[i]
		if !slices.Equal(entryIDs(p.Alarms), w.ids) || p.Complete != w.complete || p.More {
			t.Errorf("page %d (%s): %v complete %v more %v; want %v complete %v",
				i, p.Channel, entryIDs(p.Alarms), p.Complete, p.More, w.ids, w.complete)
		}
	}
}

// TestBacklogExpiry: an idle channel's backlog expires after the retention;
// a position from before that is then incomplete, a recent one complete,
// and a backlog started anew does not claim what the expired one held.
func TestBacklogExpiry(t *testing.T) {
	s, rdb := newTestStore(t, backend{"redis", true}, Config{Retention: 300 * time.Millisecond})
	ctx := testCtx(t)
	old := publishN(t, s, 2, "a")
	ttl, err := rdb.PTTL(ctx, s.keys.backlog("a")).Result()
	if err != nil || ttl <= 0 || ttl > 300*time.Millisecond {
		t.Fatalf("ttl %v err %v", ttl, err)
	}
	time.Sleep(400 * time.Millisecond)
	if n, _ := rdb.Exists(ctx, s.keys.backlog("a")).Result(); n != 0 {
		t.Fatal("backlog did not expire")
	}
	h, err := s.ListAlarms(ctx, "a", old[0].ID, 10)
	if err != nil || h.Complete || len(h.Alarms) != 0 {
		t.Fatalf("expired, old position: %+v %v", h, err)
	}
	now := protocol.ID{MS: uint64(time.Now().UnixMilli())}
	if h, err = s.ListAlarms(ctx, "a", now, 10); err != nil || !h.Complete {
		t.Fatalf("expired, recent position: %+v %v", h, err)
	}
	fresh := publishN(t, s, 1, "a")
	if h, err = s.ListAlarms(ctx, "a", old[1].ID, 10); err != nil || h.Complete || len(h.Alarms) != 1 || h.Alarms[0].ID != fresh[0].ID {
		t.Fatalf("new backlog, old position: %+v %v", h, err)
	}
}

// TestReadBacklogsChunks: positions at every distance from the newest end
// of a deep backlog, across the script's growing read chunks.
func TestReadBacklogsChunks(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := newTestStore(t, b, Config{ChannelBacklog: 100})
			ctx := testCtx(t)
			pub := publishN(t, s, 130, "a")
			for _, limit := range []int{0, 7, 100} {
				for _, k := range []int{129, 128, 113, 112, 111, 50, 31, 30, 29, 0} {
					res, err := s.ReadBacklogs(ctx, []BacklogRead{{"a", pub[k].ID}}, limit)
					if err != nil {
						t.Fatal(err)
					}
					p := res.Pages[0]
					oldest := 130 - retained(130, 100)
					from := max(k+1, oldest)
					want := idsOn(pub[from:], "a")
					more := limit > 0 && len(want) > limit
					if more {
						want = want[:limit]
					}
					if !slices.Equal(entryIDs(p.Alarms), want) || p.Complete != (k >= oldest-1) || p.More != more {
						t.Errorf("limit %d, after #%d: %d alarms complete %v more %v; want %d complete %v more %v",
							limit, k, len(p.Alarms), p.Complete, p.More, len(want), k >= oldest-1, more)
					}
				}
			}
		})
	}
}

// retained models a channel backlog's trimming (log.lua's chan_push): how
// many of n alarms published one by one a backlog of depth keeps.
func retained(n, depth int) int {
	items := 0
	for range n {
		if items++; items > depth+depth/8 {
			items = depth
		}
	}
	return items
}

func TestRetainedModel(t *testing.T) {
	for _, tt := range []struct{ n, depth, want int }{{130, 100, 104}, {20, 5, 5}, {112, 100, 112}, {113, 100, 100}, {3, 0, 0}} {
		if got := retained(tt.n, tt.depth); got != tt.want {
			t.Errorf("retained(%d, %d) = %d, want %d", tt.n, tt.depth, got, tt.want)
		}
	}
}

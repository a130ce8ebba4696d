package stream

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestRange(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := newTestStore(t, b, Config{PageSize: 4})
			ctx := testCtx(t)
			if es, err := s.Range(ctx, protocol.Zero, 10); err != nil || len(es) != 0 {
				t.Fatalf("missing stream: %v %v", es, err)
			}
			pub := publishN(t, s, 10, "a", "b")
			ids := make([]protocol.ID, len(pub))
			for i, r := range pub {
				ids[i] = r.ID
			}
			tests := []struct {
				after protocol.ID
				count int64
				want  []protocol.ID
			}{
				{protocol.Zero, 100, ids},
				{protocol.Zero, 3, ids[:3]},
				{ids[4], 100, ids[5:]},
				{ids[4].Prev(), 2, ids[4:6]},
				{ids[9], 100, nil},
				{maxID, 100, nil},
				{protocol.Zero, 0, ids[:4]}, // count <= 0 means PageSize
			}
			for _, tt := range tests {
				es, err := s.Range(ctx, tt.after, tt.count)
				if err != nil || !slices.Equal(entryIDs(es), tt.want) {
					t.Errorf("Range(%v, %d) = %v, %v; want %v", tt.after, tt.count, entryIDs(es), err, tt.want)
				}
			}
			es, _ := s.Range(ctx, ids[0].Prev(), 2)
			if es[0].Channel != "a" || es[1].Channel != "b" {
				t.Fatalf("channels %q %q", es[0].Channel, es[1].Channel)
			}
			if _, err := alarm.ParseFrame(es[1].Frame); err != nil {
				t.Fatalf("frame %s: %v", es[1].Frame, err)
			}
		})
	}
}

func TestRangeSkipsForeignEntries(t *testing.T) {
	s, rdb := newTestStore(t, backend{"miniredis", false}, Config{})
	ctx := testCtx(t)
	good := publishN(t, s, 1)[0]
	for _, vals := range [][]string{{"x", "1"}, {"c", "bad chan", "t", "}"}, {"c", "c", "t", `,"channel":"d"}`}} {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.StreamKey(), Values: vals}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	es, err := s.Range(ctx, protocol.Zero, 10)
	if err != nil || len(es) != 1 || es[0].ID != good.ID {
		t.Fatalf("Range = %v %v", entryIDs(es), err)
	}
}

func TestTip(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, _ := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			tip, err := s.Tip(ctx)
			if err != nil || tip != (Tip{}) {
				t.Fatalf("empty Tip = %+v %v", tip, err)
			}
			pub := publishN(t, s, 3)
			tip, err = s.Tip(ctx)
			if err != nil || tip.Newest != pub[2].ID || tip.Epoch != pub[2].Epoch {
				t.Fatalf("Tip = %+v %v, want %v", tip, err, pub[2])
			}
		})
	}
}

// xrevHook records the COUNT of every XREVRANGE the client sends.
type xrevHook struct {
	mu     sync.Mutex
	counts []int64 // guarded by mu
}

func (h *xrevHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *xrevHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.record(cmd)
		return next(ctx, cmd)
	}
}

func (h *xrevHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		for _, c := range cmds {
			h.record(c)
		}
		return next(ctx, cmds)
	}
}

func (h *xrevHook) record(cmd redis.Cmder) {
	args := cmd.Args()
	if !strings.EqualFold(cmd.Name(), "xrevrange") {
		return
	}
	n := int64(-1) // unbounded
	for i, a := range args {
		if s, ok := a.(string); ok && strings.EqualFold(s, "count") && i+1 < len(args) {
			n, _ = strconv.ParseInt(toString(args[i+1]), 10, 64)
		}
	}
	h.mu.Lock()
	h.counts = append(h.counts, n)
	h.mu.Unlock()
}

func toString(a any) string {
	switch v := a.(type) {
	case string:
		return v
	case int64:
		return strconv.FormatInt(v, 10)
	}
	return ""
}

func TestLoadWindowPaged(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{PageSize: 7})
			hook := &xrevHook{}
			rdb.AddHook(hook)
			ctx := testCtx(t)

			es, ev, tip, err := s.LoadWindow(ctx, 100)
			if err != nil || len(es) != 0 || ev != protocol.Zero || tip != (Tip{}) {
				t.Fatalf("missing stream: %v %v %+v %v", es, ev, tip, err)
			}
			pub := publishN(t, s, 30)
			ids := make([]protocol.ID, len(pub))
			for i, r := range pub {
				ids[i] = r.ID
			}
			for _, n := range []int{100, 31, 30, 29, 10, 7, 1} {
				es, ev, tip, err := s.LoadWindow(ctx, n)
				if err != nil {
					t.Fatal(err)
				}
				want := ids[max(0, len(ids)-n):]
				if !slices.Equal(entryIDs(es), want) {
					t.Fatalf("n=%d: ids %v, want %v", n, entryIDs(es), want)
				}
				if tip.Newest != ids[29] || tip.Epoch != pub[0].Epoch {
					t.Fatalf("n=%d: tip %+v", n, tip)
				}
				wantEv := want[0].Prev()
				if n >= 30 && b.real { // nothing trimmed, everything fits
					wantEv = protocol.Zero
				}
				if ev != wantEv {
					t.Fatalf("n=%d: evicted %v, want %v", n, ev, wantEv)
				}
			}
			es, ev, tip, err = s.LoadWindow(ctx, 0)
			if err != nil || len(es) != 0 || ev != ids[29] || tip.Newest != protocol.Zero {
				t.Fatalf("n=0: %v %v %+v %v", es, ev, tip, err)
			}
			hook.mu.Lock()
			defer hook.mu.Unlock()
			if len(hook.counts) < 5 {
				t.Fatalf("expected paged reads, saw %v", hook.counts)
			}
			for _, c := range hook.counts {
				if c < 1 || c > 7 {
					t.Fatalf("XREVRANGE COUNT %d outside 1..PageSize (all: %v)", c, hook.counts)
				}
			}
		})
	}
}

// TestLoadWindowDeletedAll: an emptied stream that had entries reports
// its last-generated-id as evicted.
func TestLoadWindowDeletedAll(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			pub := publishN(t, s, 3)
			for _, r := range pub {
				rdb.XDel(ctx, s.StreamKey(), r.ID.String())
			}
			es, ev, tip, err := s.LoadWindow(ctx, 10)
			if err != nil || len(es) != 0 || ev != pub[2].ID || tip.Newest != protocol.Zero || tip.Epoch != pub[0].Epoch {
				t.Fatalf("LoadWindow = %v %v %+v %v", es, ev, tip, err)
			}
			// Deleting a middle entry counts as a removal too.
			pub = publishN(t, s, 3)
			rdb.XDel(ctx, s.StreamKey(), pub[1].ID.String())
			es, ev, _, _ = s.LoadWindow(ctx, 10)
			if len(es) != 2 || ev != pub[0].ID.Prev() {
				t.Fatalf("after XDEL: %v evicted %v", entryIDs(es), ev)
			}
		})
	}
}

// checkWindowInvariant asserts that every id in the stream above evicted
// is in entries.
func checkWindowInvariant(t *testing.T, rdb redis.UniversalClient, s *Store, es []alarm.Entry, ev protocol.ID) {
	t.Helper()
	have := entryIDs(es)
	for _, id := range allIDs(t, rdb, s.StreamKey()) {
		if ev.Less(id) && !slices.Contains(have, id) {
			t.Fatalf("id %v > evicted %v is in the stream but not in the window", id, ev)
		}
	}
}

func TestMaxLenTrimming(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{MaxLen: 10})
			ctx := testCtx(t)
			pub := publishN(t, s, 100)
			n := rdb.XLen(ctx, s.StreamKey()).Val()
			t.Logf("stream length %d after 100 publishes, MaxLen ~10", n)
			if n < 10 || n >= 100 {
				t.Fatalf("stream length %d after 100 publishes with MaxLen ~10", n)
			}
			for _, win := range []int{1000, 5} {
				es, ev, tip, err := s.LoadWindow(ctx, win)
				if err != nil {
					t.Fatal(err)
				}
				if len(es) == 0 || ev.IsZero() || ev != es[0].ID.Prev() || tip.Newest != pub[99].ID {
					t.Fatalf("window %d: %d entries, evicted %v, tip %+v", win, len(es), ev, tip)
				}
				checkWindowInvariant(t, rdb, s, es, ev)
			}
		})
	}
}

// TestRetentionTrimming inserts alarms with ancient explicit ids; the next
// publish trims them with XTRIM MINID ~ (whole radix nodes on Redis, so
// 300 old entries fill complete nodes; exact on miniredis).
func TestRetentionTrimming(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{Retention: time.Hour})
			ctx := testCtx(t)
			tail, _ := alarm.EncodeTail("old", "e", nil)
			pipe := rdb.Pipeline()
			for i := 1; i <= 300; i++ {
				pipe.XAdd(ctx, &redis.XAddArgs{Stream: s.StreamKey(), ID: strconv.Itoa(i) + "-0",
					Values: []any{"c", "old", "t", tail}})
			}
			if _, err := pipe.Exec(ctx); err != nil {
				t.Fatal(err)
			}
			pub := publishN(t, s, 1)
			ids := allIDs(t, rdb, s.StreamKey())
			t.Logf("%d of 301 entries left after retention trim", len(ids))
			if len(ids) >= 301 || ids[len(ids)-1] != pub[0].ID {
				t.Fatalf("old entries not trimmed: %d left", len(ids))
			}
			es, ev, _, err := s.LoadWindow(ctx, 1000)
			if err != nil || ev.IsZero() {
				t.Fatalf("evicted %v %v", ev, err)
			}
			checkWindowInvariant(t, rdb, s, es, ev)
		})
	}
}

// TestRetentionTinyRetention: with Retention 1ms every publish computes a
// MINID just below its own id; the script runs and keeps the new alarm.
func TestRetentionTinyRetention(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{Retention: time.Millisecond})
			pub := publishN(t, s, 20)
			ids := allIDs(t, rdb, s.StreamKey())
			if len(ids) == 0 || ids[len(ids)-1] != pub[19].ID {
				t.Fatalf("stream %v, newest published %v", ids, pub[19].ID)
			}
		})
	}
}

func TestReadWrongType(t *testing.T) {
	s, rdb := newTestStore(t, backend{"miniredis", false}, Config{})
	ctx := testCtx(t)
	rdb.Set(ctx, s.StreamKey(), "not a stream", 0)
	if _, _, _, err := s.LoadWindow(ctx, 10); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("LoadWindow on a string key: %v", err)
	}
	if _, err := s.Publish(ctx, PublishInput{Channel: "c", Event: "e"}); err == nil || errors.Is(err, ErrUnavailable) {
		t.Fatalf("Publish on a string key: %v", err)
	}
}

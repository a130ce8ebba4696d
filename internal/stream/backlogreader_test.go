package stream

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

// TestBacklogReader: concurrent resumes share script calls, identical
// reads are made once, and each caller gets its channels merged in id
// order.
func TestBacklogReader(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{})
	pub := publishN(t, s, 60, "user:0", "user:1", "user:2", "broadcast")
	var calls, keys atomic.Int64
	r := s.NewBacklogReader(1, func(n int) { calls.Add(1); keys.Add(int64(n)) })
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { r.Run(ctx) })
	after := pub[9].ID
	const clients = 30
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := range clients {
		wg.Go(func() {
			user := "user:" + string(rune('0'+i%3))
			epoch, got, complete, err := r.ReadAfter(testCtx(t), []string{user, "broadcast", user}, after)
			var want []protocol.ID
			for _, p := range pub[10:] {
				if p.Channel == user || p.Channel == "broadcast" {
					want = append(want, p.ID)
				}
			}
			if err != nil || !complete || epoch != pub[0].Epoch || !slices.Equal(entryIDs(got), want) {
				errs <- user + ": wrong read"
			}
		})
	}
	wg.Wait()
	cancel()
	run.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	// Each call reads each distinct backlog once: at most 4 per call.
	if c, k := calls.Load(), keys.Load(); c == 0 || c > clients || k > 4*c {
		t.Errorf("%d calls read %d backlogs", c, k)
	}
	t.Logf("%d resumes: %d script calls, %d backlogs read", clients, calls.Load(), keys.Load())
	// Without Run, reads go straight to Redis.
	if _, got, ok, err := r.ReadAfter(testCtx(t), []string{"user:0"}, pub[58].ID); err != nil || !ok || len(got) != 0 {
		t.Fatalf("direct read: %v %v %v", got, ok, err)
	}
}

// TestBacklogReaderCounts: concurrent welcome counts share pipelines and
// each caller gets its own inbox's counts; a channel without an inbox has
// none.
func TestBacklogReaderCounts(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{})
	publishN(t, s, 9, "user:0", "user:1", "user:1", "broadcast")
	r := s.NewBacklogReader(1, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { r.Run(ctx) })
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := range 40 {
		wg.Go(func() {
			ch := []string{"user:0", "user:1", "broadcast", "user:9"}[i%4]
			got, ok, err := r.Counts(testCtx(t), ch)
			want, wantOK, werr := s.Counts(testCtx(t), ch)
			if err != nil || werr != nil || ok != wantOK || got != want {
				errs <- fmt.Sprintf("%s: %+v %v %v, want %+v %v %v", ch, got, ok, err, want, wantOK, werr)
			}
		})
	}
	wg.Wait()
	cancel()
	run.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if c, ok, err := s.Counts(testCtx(t), "user:1"); err != nil || !ok || c.Unread != 4 || c.Unseen != 4 {
		t.Errorf("user:1 counts %+v %v %v, want 4 unread and unseen", c, ok, err)
	}
}

package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testutil"
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

// startReader runs r until the test ends.
func startReader(t *testing.T, r *BacklogReader) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { r.Run(ctx) })
	t.Cleanup(func() { cancel(); run.Wait() })
}

// waitWaiting waits until n reads wait for a turn of r.
func waitWaiting(t *testing.T, r *BacklogReader, n int64) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "reads waiting for a turn", func() bool { return r.waiting.Load() == n })
}

// TestBacklogReaderQueue: a read waits for its turn without a deadline of
// its own, however long the calls before it take; the reads waiting are
// capped (one more is refused at once, as unavailable); a read whose caller
// goes away leaves the queue and frees its place.
func TestBacklogReaderQueue(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{})
	pub := publishN(t, s, 4, "user:0")
	entered, release := make(chan struct{}, 10), make(chan struct{})
	r := s.NewBacklogReader(1, func(int) { entered <- struct{}{}; <-release })
	r.maxWaiting = 2
	startReader(t, r)
	read := func(ctx context.Context) chan error {
		done := make(chan error, 1)
		go func() {
			_, got, ok, err := r.ReadAfter(ctx, []string{"user:0"}, pub[0].ID)
			if err == nil && (!ok || len(got) != 3) {
				err = fmt.Errorf("read %d alarms (complete %v), want 3", len(got), ok)
			}
			done <- err
		}()
		return done
	}
	first := read(testCtx(t)) // its call holds the only worker
	<-entered
	leaving, leave := context.WithCancel(testCtx(t))
	gone := read(leaving)
	second := read(testCtx(t))
	waitWaiting(t, r, 2)
	if _, _, _, err := r.ReadAfter(testCtx(t), []string{"user:0"}, pub[0].ID); !errors.Is(err, ErrReadQueueFull) || !errors.Is(err, ErrUnavailable) {
		t.Fatalf("read beyond the cap: %v, want ErrReadQueueFull (unavailable)", err)
	}
	leave()
	if err := <-gone; !errors.Is(err, context.Canceled) {
		t.Fatalf("read of a caller that left: %v, want context.Canceled", err)
	}
	waitWaiting(t, r, 1)
	third := read(testCtx(t)) // takes the place the leaver freed
	waitWaiting(t, r, 2)
	close(release)
	for i, done := range []chan error{first, second, third} {
		if err := <-done; err != nil {
			t.Errorf("read %d: %v", i, err)
		}
	}
}

// TestBacklogReaderStorm: many concurrent resumes, far more than one call
// carries, are all answered, each with its own channel.
func TestBacklogReaderStorm(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{})
	const clients, per = 600, 5
	channels := make([]string, clients)
	for i := range channels {
		channels[i] = "user:" + strconv.Itoa(i)
	}
	first := publishN(t, s, clients, channels...) // each client's last id
	publishN(t, s, clients*per, channels...)
	var calls atomic.Int64
	r := s.NewBacklogReader(2, func(int) { calls.Add(1) })
	startReader(t, r)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		wg.Go(func() {
			_, got, ok, err := r.ReadAfter(testCtx(t), []string{channels[i], "broadcast"}, first[i].ID)
			if err == nil && (!ok || len(got) != per) {
				err = fmt.Errorf("%s: %d alarms (complete %v), want %d", channels[i], len(got), ok, per)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	t.Logf("%d resumes in %d script calls", clients, calls.Load())
}

// stalledRedis listens on loopback, accepts connections and reads from
// them without answering; each connection it took the first bytes of is
// sent on got, and all are closed when release is closed (the client then
// sees EOF: Redis went away).
func stalledRedis(t *testing.T) (addr string, got <-chan struct{}, release chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch, rel := make(chan struct{}, 100), make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				if _, err := c.Read(make([]byte, 1)); err == nil {
					ch <- struct{}{}
				}
				<-rel
			})
		}
	})
	t.Cleanup(func() {
		_ = l.Close()
		select {
		case <-rel:
		default:
			close(rel)
		}
		wg.Wait()
	})
	return l.Addr().String(), ch, rel
}

// TestBacklogReaderRedisGone: when Redis fails a call as unavailable,
// every read waiting for a turn fails with it at once (the 1013 path), not
// one call's timeout after another.
func TestBacklogReaderRedisGone(t *testing.T) {
	addr, got, release := stalledRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Timeout: time.Minute}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int64
	r := s.NewBacklogReader(1, func(int) { calls.Add(1) })
	startReader(t, r)
	const clients = 400 // several calls' worth (DefaultReadKeys)
	errs := make(chan error, clients)
	read := func() {
		_, _, _, err := r.ReadAfter(testCtx(t), []string{"user:1"}, protocol.ID{MS: 1})
		errs <- err
	}
	go read()
	<-got // the first call reached "Redis", which does not answer
	for range clients - 1 {
		go read()
	}
	waitWaiting(t, r, clients-1)
	close(release)
	for range clients {
		if err := <-errs; !errors.Is(err, ErrUnavailable) {
			t.Fatalf("read with Redis gone: %v, want ErrUnavailable", err)
		}
	}
	if c := calls.Load(); c != 1 {
		t.Fatalf("%d calls, want 1: the reads waiting fail with the first", c)
	}
}

package transport

import (
	"context"
	"net"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// deepCtx bounds a test's Redis work.
func deepCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// runReader runs a backlog reader of s until the test ends.
func runReader(t *testing.T, s *stream.Store) *stream.BacklogReader {
	t.Helper()
	r := s.NewBacklogReader(0, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { r.Run(ctx) })
	t.Cleanup(func() { cancel(); run.Wait() })
	return r
}

// deepStorm publishes, on the real Redis, one alarm on each of n channels
// (the clients' last ids), then per more on each, then one on "other" that
// fills a one-alarm window: every client's last id is older than the
// window. It returns the hub, the store and the last ids.
func deepStorm(t *testing.T, n, per int) (*hub.Hub, *stream.Store, []string, []protocol.ID) {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: testproc.RedisAddr(), ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := stream.New(stream.Config{Prefix: testutil.Prefix(t)}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	channels, last := make([]string, n), make([]protocol.ID, n)
	var res stream.PublishResult
	for round := range 1 + per {
		for i := range channels {
			channels[i] = "user:" + strconv.Itoa(i)
			if res, err = s.Publish(deepCtx(t), stream.PublishInput{Channel: channels[i], Event: "e"}); err != nil {
				t.Fatal(err)
			}
			if round == 0 {
				last[i] = res.ID
			}
		}
	}
	evicted := res.ID
	if res, err = s.Publish(deepCtx(t), stream.PublishInput{Channel: "other", Event: "e"}); err != nil {
		t.Fatal(err)
	}
	tail, err := alarm.EncodeTail("other", "e", nil)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hub.New(hub.Config{NodeID: "n", Window: 1}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset(res.Epoch, []alarm.Entry{alarm.NewEntry(res.ID, "other", tail)}, evicted)
	return h, s, channels, last
}

// TestResumeDeepStorm: many concurrent resumes older than the window all
// resume, however long they wait for their turn of the reader: the wait
// has no deadline (a CatchUpTimeout far below one script call changes
// nothing).
func TestResumeDeepStorm(t *testing.T) {
	const clients, per = 500, 4
	h, s, channels, last := deepStorm(t, clients, per)
	r := Resumer{Hub: h, Feed: &feed{h: h}, Backfill: runReader(t, s), CatchUpTimeout: time.Nanosecond}
	var wg sync.WaitGroup
	errs := make(chan string, clients)
	for i := range clients {
		wg.Go(func() {
			c := h.NewConn([]string{channels[i], "broadcast"}, func() {}, func(protocol.CloseCode, string) {})
			w, err := r.Resume(deepCtx(t), c, hub.Resume{LastID: last[i], HasLastID: true})
			if err != nil || w.Status != protocol.StatusResumed || w.Replayed != per {
				code, reason := ResumeClose(err)
				errs <- channels[i] + ": " + string(w.Status) + " " + strconv.Itoa(w.Replayed) + " " + strconv.Itoa(int(code)) + " " + reason
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// TestResumeDeepRedisDown: with Redis down, a resume older than the window
// fails at once and is closed with 1013.
func TestResumeDeepRedisDown(t *testing.T) {
	h, _, channels, last := deepStorm(t, 1, 1)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close() // nothing listens there: Redis is down
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	down, err := stream.New(stream.Config{}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := Resumer{Hub: h, Feed: &feed{h: h}, Backfill: runReader(t, down), CatchUpTimeout: time.Second}
	c := h.NewConn(channels, func() {}, func(protocol.CloseCode, string) {})
	_, err = r.Resume(context.Background(), c, hub.Resume{LastID: last[0], HasLastID: true})
	if code, reason := ResumeClose(err); err == nil || code != protocol.CloseTryLater {
		t.Fatalf("resume with Redis down: %v, closed %d %q; want 1013", err, code, reason)
	}
	if h.Len() != 0 {
		t.Fatal("the connection stays registered after the failed resume")
	}
}

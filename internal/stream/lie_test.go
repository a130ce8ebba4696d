package stream

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// privateRedis starts a redis-server of the test's own, killed at cleanup.
func privateRedis(t testing.TB, args ...string) *testproc.Redis {
	t.Helper()
	r, err := testproc.NewRedis(testproc.RedisOptions{Dir: t.TempDir(), Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	if err := r.WaitPing(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	return r
}

// dropOnceProxy forwards TCP connections to target. The first reply that
// follows a request containing marker is swallowed and that connection is
// closed: the command ran, its answer is lost.
type dropOnceProxy struct {
	l       net.Listener
	target  string
	marker  []byte
	dropped atomic.Bool
	wg      sync.WaitGroup
}

func newDropOnceProxy(t *testing.T, target, marker string) *dropOnceProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &dropOnceProxy{l: l, target: target, marker: []byte(marker)}
	p.wg.Go(p.accept)
	t.Cleanup(func() { _ = l.Close(); p.wg.Wait() })
	return p
}

func (p *dropOnceProxy) accept() {
	for {
		c, err := p.l.Accept()
		if err != nil {
			return
		}
		p.wg.Go(func() { p.serve(c) })
	}
}

func (p *dropOnceProxy) serve(c net.Conn) {
	defer c.Close()
	u, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer u.Close()
	var armed atomic.Bool
	go func() {
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if n > 0 {
				if !p.dropped.Load() && strings.Contains(strings.ToLower(string(buf[:n])), string(p.marker)) {
					armed.Store(true)
				}
				if _, werr := u.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				_ = u.Close()
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	for {
		n, err := u.Read(buf)
		if n > 0 {
			if armed.Load() && p.dropped.CompareAndSwap(false, true) {
				return // the reply is lost; both connections close
			}
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				return
			}
			return
		}
	}
}

// Item 2 of issue 10: go-redis re-sends EVALSHA when the reply is lost;
// the publish must still be appended once.
func TestPublishLostReplyAppendsOnce(t *testing.T) {
	ctx := testCtx(t)
	s0, rdb := newTestStore(t, backend{"redis", true}, Config{})
	publishN(t, s0, 1) // loads the script, so the proxied call is one EVALSHA
	p := newDropOnceProxy(t, testproc.RedisAddr(), "evalsha")
	prdb := redis.NewClient(&redis.Options{Addr: p.l.Addr().String(), ContextTimeoutEnabled: true, MaxRetries: 3})
	t.Cleanup(func() { _ = prdb.Close() })
	s, err := New(s0.cfg, prdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.Publish(ctx, PublishInput{Channel: "user:1", Event: "e", Data: json.RawMessage(`{"once":1}`)})
	if !p.dropped.Load() {
		t.Fatal("the proxy dropped no reply")
	}
	ids := allIDs(t, rdb, s.keys.stream)
	if len(ids) != 2 {
		t.Fatalf("stream holds %d alarms after one publish (+1 before), want 2: %v (publish: %+v, %v)", len(ids), ids, res, err)
	}
	if err == nil && res.ID != ids[1] {
		t.Fatalf("publish answered %v, stream holds %v", res.ID, ids[1])
	}
}

// Item 3 of issue 10: an idempotency key reused for another alarm is
// refused; the same alarm again is a replay.
func TestIdempotencyKeyReusedForAnotherAlarm(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			ctx := testCtx(t)
			s, _ := newTestStore(t, b, Config{})
			first := PublishInput{Channel: "user:1", Event: "e", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k1"}
			r1, err := s.Publish(ctx, first)
			if err != nil {
				t.Fatal(err)
			}
			if r2, err := s.Publish(ctx, first); err != nil || !r2.Replayed || r2.ID != r1.ID {
				t.Fatalf("same alarm again: %+v %v, want a replay of %v", r2, err, r1.ID)
			}
			for _, other := range []PublishInput{
				{Channel: "user:2", Event: "e", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k1"},
				{Channel: "user:1", Event: "f", Data: json.RawMessage(`{"a":1}`), IdempotencyKey: "k1"},
				{Channel: "user:1", Event: "e", Data: json.RawMessage(`{"a":2}`), IdempotencyKey: "k1"},
			} {
				if r, err := s.Publish(ctx, other); !errors.Is(err, ErrIdemKeyReused) {
					t.Errorf("%+v: got %+v %v, want ErrIdemKeyReused", other, r, err)
				}
			}
			_, errs := s.PublishBatch(ctx, []PublishInput{
				first,
				{Channel: "user:9", Event: "e", IdempotencyKey: "k1"},
				{Channel: "user:9", Event: "e", IdempotencyKey: "k2"},
				{Channel: "user:8", Event: "e", IdempotencyKey: "k2"},
			})
			if errs[0] != nil || !errors.Is(errs[1], ErrIdemKeyReused) || errs[2] != nil || !errors.Is(errs[3], ErrIdemKeyReused) {
				t.Fatalf("batch errors %v", errs)
			}
		})
	}
}

// Item 7 of issue 10: a publish answered with an error while Redis was
// frozen must not be stored when Redis wakes up.
func TestPublishRefusedAfterDeadline(t *testing.T) {
	r := privateRedis(t)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Prefix: "frozen", Timeout: 300 * time.Millisecond}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	publishN(t, s, 1) // loads the script
	pid := r.PID()
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	if _, err := s.Publish(ctx, PublishInput{Channel: "user:1", Event: "frozen"}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("publish to a frozen Redis: %v, want ErrUnavailable", err)
	}
	_, errs := s.PublishBatch(ctx, []PublishInput{{Channel: "user:1", Event: "frozen"}, {Channel: "user:2", Event: "frozen"}})
	for i, err := range errs {
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("batch item %d: %v, want ErrUnavailable", i, err)
		}
	}
	time.Sleep(time.Second) // let the publishes' deadlines pass for sure
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // Redis runs what it had buffered
	n, err := rdb.XLen(ctx, s.keys.stream).Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("stream holds %d alarms, want 1: publishes answered as failed were stored", n)
	}
}

// Settled in issue 10: an evicting maxmemory-policy is reported.
func TestCheckServerEvictionPolicy(t *testing.T) {
	r := privateRedis(t, "--maxmemory-policy", "allkeys-lru")
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Prefix: "evict"}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	if err := s.CheckServer(ctx); !errors.Is(err, ErrEvicting) {
		t.Fatalf("allkeys-lru: %v, want ErrEvicting", err)
	}
	if err := rdb.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err != nil {
		t.Fatal(err)
	}
	if err := s.CheckServer(ctx); err != nil {
		t.Fatalf("noeviction: %v", err)
	}
}

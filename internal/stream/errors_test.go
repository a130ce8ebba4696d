package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// redisErr is a server error reply, as go-redis reports them.
type redisErr string

func (e redisErr) Error() string { return string(e) }
func (redisErr) RedisError()     {}

func TestIsUnavailable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{context.DeadlineExceeded, true},
		{fmt.Errorf("x: %w", io.EOF), true},
		{io.ErrUnexpectedEOF, true},
		{redis.ErrClosed, true},
		{redis.ErrPoolTimeout, true},
		{redisErr("LOADING Redis is loading the dataset in memory"), true},
		{redisErr("READONLY You can't write against a read only replica."), true},
		{redisErr("MASTERDOWN Link with MASTER is down"), true},
		{redisErr("CLUSTERDOWN The cluster is down"), true},
		{redisErr("TRYAGAIN Multiple keys request during rehashing"), true},
		{redisErr("ERR Error running script (call to f_x): @user_script:1: -READONLY You can't write"), true},
		{redisErr("ERR wrong number of arguments"), false},
		{redisErr("WRONGTYPE Operation against a key holding the wrong kind of value"), false},
		{redisErr("NOSCRIPT No matching script"), false},
		{context.Canceled, false},
		{errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := isUnavailable(tt.err); got != tt.want {
			t.Errorf("isUnavailable(%v) = %v, want %v", tt.err, got, tt.want)
		}
		if got := errors.Is(wrapErr("op", tt.err), ErrUnavailable); got != tt.want {
			t.Errorf("wrapErr(%v) is ErrUnavailable = %v", tt.err, got)
		}
		if !errors.Is(wrapErr("op", tt.err), tt.err) {
			t.Errorf("wrapErr(%v) lost the cause", tt.err)
		}
		if got, want := wrapErr("op", tt.err).Error(), "stream: op: "+tt.err.Error(); got != want {
			t.Errorf("wrapErr(%v) reads %q, want %q: context once, no sentinel text", tt.err, got, want)
		}
	}
	if wrapErr("op", nil) != nil {
		t.Fatal("wrapErr(nil) != nil")
	}
}

// unreachableStore returns a Store whose client points at a closed port.
func unreachableStore(t *testing.T) *Store {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialerRetries: 1, DialerRetryTimeout: time.Millisecond,
		DialTimeout: 200 * time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{Timeout: time.Second, MaxAlarmBytes: 512}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestUnavailable(t *testing.T) {
	s := unreachableStore(t)
	calls := map[string]func(ctx context.Context) error{
		"Publish": func(ctx context.Context) error {
			_, err := s.Publish(ctx, PublishInput{Channel: "c", Event: "e"})
			return err
		},
		"PublishBatch": func(ctx context.Context) error {
			_, errs := s.PublishBatch(ctx, []PublishInput{{Channel: "c", Event: "e"}, {Channel: "c", Event: "f"}})
			return errors.Join(errs[0], errs[1])
		},
		"Range":      func(ctx context.Context) error { _, err := s.Range(ctx, protocol.Zero, 10); return err },
		"Tip":        func(ctx context.Context) error { _, err := s.Tip(ctx); return err },
		"LoadWindow": func(ctx context.Context) error { _, _, _, err := s.LoadWindow(ctx, 10); return err },
		"ListAlarms": func(ctx context.Context) error { _, err := s.ListAlarms(ctx, "c", protocol.Zero, 10); return err },
		"EnsureEpoch": func(ctx context.Context) error {
			_, err := s.EnsureEpoch(ctx)
			return err
		},
		"RotateEpoch": func(ctx context.Context) error {
			_, err := s.RotateEpoch(ctx, "x")
			return err
		},
	}
	for name, call := range calls {
		t.Run(name, func(t *testing.T) {
			err := call(testCtx(t))
			if !errors.Is(err, ErrUnavailable) {
				t.Fatalf("%s: %v, want ErrUnavailable", name, err)
			}
			for _, msg := range strings.Split(err.Error(), "\n") { // PublishBatch joins two
				if strings.Count(msg, "stream:") != 1 || strings.Contains(msg, ErrUnavailable.Error()) {
					t.Fatalf("%s: %q, want one \"stream:\" and no sentinel text", name, msg)
				}
			}
		})
	}
}

// TestUnavailableDeadline: a ctx deadline that expires during a call is
// reported as ErrUnavailable.
func TestUnavailableDeadline(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{})
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := s.Tip(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Tip with expired ctx: %v", err)
	}
}

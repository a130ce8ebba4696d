package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"
)

// pipeHook rewrites the first EVALSHA of the first pipeline it sees that
// holds several (edit), and passes everything else through.
type pipeHook struct {
	edit func(args []any)
	done atomic.Bool
}

func (*pipeHook) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (*pipeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }

func (h *pipeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) > 1 && cmds[0].Name() == "evalsha" && h.done.CompareAndSwap(false, true) {
			h.edit(cmds[0].Args())
		}
		return next(ctx, cmds)
	}
}

// hookedStore returns a Store on backend b whose client runs h.
func hookedStore(t *testing.T, b backend, h redis.Hook) (*Store, redis.UniversalClient) {
	t.Helper()
	s, rdb := newTestStore(t, b, Config{})
	rdb.AddHook(h)
	return s, rdb
}

// sameChannel returns n alarms on one channel.
func sameChannel(n int) []PublishInput {
	ins := make([]PublishInput, n)
	for i := range ins {
		ins[i] = PublishInput{Channel: "user:1", Event: "e", Data: []byte(fmt.Sprint(i))}
	}
	return ins
}

// TestPublishBatchOrderAfterNoScript: Redis loses its script cache and
// another client loads the script again while a batch of several calls
// is in flight, so the first call meets NOSCRIPT and the second finds the
// script. (The hook gives the first call an unknown digest: to Redis that
// is the same as a SCRIPT FLUSH before it and a SCRIPT LOAD after it,
// without touching the cache other tests share.) Every alarm must still be
// appended, once, in the batch's order.
func TestPublishBatchOrderAfterNoScript(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			h := &pipeHook{edit: func(args []any) { args[1] = strings.Repeat("0", 40) }}
			s, rdb := hookedStore(t, b, h)
			ctx := testCtx(t)
			if err := s.publish.Load(ctx, rdb).Err(); err != nil {
				t.Fatal(err)
			}
			ins := sameChannel(2*maxCallItems + 1)
			res, errs := s.PublishBatch(ctx, ins)
			if !h.done.Load() {
				t.Fatal("the hook did not see the batch's pipeline")
			}
			for i := range ins {
				if errs[i] != nil {
					t.Fatalf("item %d: %v", i, errs[i])
				}
				if i > 0 && !res[i-1].ID.Less(res[i].ID) {
					t.Fatalf("item %d got %s, item %d got %s: not in the batch's order", i-1, res[i-1].ID, i, res[i].ID)
				}
			}
			ids := allIDs(t, rdb, s.StreamKey())
			if len(ids) != len(ins) {
				t.Fatalf("stream holds %d alarms, want %d", len(ids), len(ins))
			}
			for i, id := range ids {
				if id != res[i].ID {
					t.Fatalf("stream entry %d is %s, item %d got %s", i, id, i, res[i].ID)
				}
			}
		})
	}
}

// TestPublishBatchStopsAfterFailedCall: when a call of a batch fails (here
// a script error), the later calls of its pipeline do not run: they would
// append their alarms before the failed ones, which a retry appends later.
// Their items fail with the failed call's error.
func TestPublishBatchStopsAfterFailedCall(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			// MAXLEN (ARGV[2]) "x" makes the first call's XADD fail inside the script.
			h := &pipeHook{edit: func(args []any) { args[3+args[2].(int)+1] = "x" }}
			s, rdb := hookedStore(t, b, h)
			ctx := testCtx(t)
			if err := s.publish.Load(ctx, rdb).Err(); err != nil {
				t.Fatal(err)
			}
			ins := sameChannel(maxCallItems + 2)
			_, errs := s.PublishBatch(ctx, ins)
			if !h.done.Load() {
				t.Fatal("the hook did not see the batch's pipeline")
			}
			for i, err := range errs {
				var rerr redis.Error
				if err == nil || !errors.As(err, &rerr) {
					t.Fatalf("item %d: %v, want the failed call's Redis error", i, err)
				}
			}
			if n := rdb.XLen(ctx, s.StreamKey()).Val(); n != 0 {
				t.Fatalf("stream holds %d alarms, want 0", n)
			}
		})
	}
}

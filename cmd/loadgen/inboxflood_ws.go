package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// The hostile user's WebSockets of the inbox-flood workload.

// hostileConn is one WebSocket of the hostile user: flood writes, the
// reader goroutine counts the error answers.
type hostileConn struct {
	c       *websocket.Conn
	limited atomic.Int64  // rate_limited answers
	failed  atomic.Int64  // other error answers, the sync's left out
	synced  chan struct{} // gets the answer to the sync message
	done    chan struct{} // closed when the reader ends
	err     error         // why the reader ended; read it after done
}

var (
	errorPrefix = []byte(`{"type":"error",`)
	rateLimited = []byte(`"error":"rate_limited"`)
	badRequest  = []byte(`"error":"bad_request"`)
	// syncMsg is a state message whose op does not decode: the gateway
	// answers bad_request before any limit or Redis.
	syncMsg = []byte(`{"type":"state","op":0}`)
)

// dialHostile connects one hostile WebSocket and waits for its welcome.
func dialHostile(ctx context.Context, d *dialer, url, token string) (*hostileConn, error) {
	c, err := d.dial(ctx, url, token, nil)
	if err != nil {
		return nil, err
	}
	h := &hostileConn{c: c, synced: make(chan struct{}, 1), done: make(chan struct{})}
	welcomed := make(chan struct{})
	go h.read(welcomed)
	if err := waitFor(ctx, welcomed, 20*time.Second); err != nil {
		_ = c.CloseNow()
		<-h.done
		return nil, err
	}
	return h, nil
}

func (h *hostileConn) read(welcomed chan struct{}) {
	defer close(h.done)
	var once sync.Once
	for {
		_, b, err := h.c.Read(context.Background())
		if err != nil {
			h.err = err
			return
		}
		splitLines(b, func(msg []byte) {
			switch {
			case bytes.HasPrefix(msg, welcomePrefix):
				once.Do(func() { close(welcomed) })
			case !bytes.HasPrefix(msg, errorPrefix):
			case bytes.Contains(msg, rateLimited):
				h.limited.Add(1)
			case bytes.Contains(msg, badRequest):
				select {
				case h.synced <- struct{}{}:
				default:
				}
			default:
				h.failed.Add(1)
			}
		})
	}
}

// flood writes msgs in turn as fast as the gateway answers them until ctx
// ends, and returns how many it wrote. After every window messages it
// syncs, so that at most window answers are on their way: a client that
// writes without reading its answers is closed as too slow (4029) once its
// queue overflows, which would end the flood.
func (h *hostileConn) flood(ctx context.Context, msgs [][]byte, window int) (int64, error) {
	var n int64
	for ctx.Err() == nil {
		if err := writeReply(h.c, msgs[n%int64(len(msgs))]); err != nil {
			return n, h.closed(err)
		}
		n++
		// A real attacker runs elsewhere: yield, so that this loop does
		// not hold a P of loadgen's own runtime for a whole time slice
		// while the victim's goroutines, which take the timestamps, wait.
		runtime.Gosched()
		if n%int64(window) == 0 {
			// Not ctx: a sync cut short would leave its answer to be
			// taken for the next one's.
			if err := h.sync(context.Background()); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// sync sends syncMsg and waits for its answer. The gateway serves one
// connection's messages in order, so by then it has answered every
// message written before.
func (h *hostileConn) sync(ctx context.Context) error {
	select {
	case <-h.synced:
	default:
	}
	if err := writeReply(h.c, syncMsg); err != nil {
		return h.closed(err)
	}
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-h.synced:
		return nil
	case <-h.done:
		return fmt.Errorf("sync: the hostile WebSocket closed: %w", h.err)
	case <-t.C:
		return errors.New("sync: no answer in 30 s")
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closed explains a failed write: why the gateway closed the socket when
// the reader has seen it.
func (h *hostileConn) closed(err error) error {
	select {
	case <-h.done:
		return fmt.Errorf("the hostile WebSocket closed: %w", h.err)
	case <-time.After(100 * time.Millisecond):
		return fmt.Errorf("write: %w", err)
	}
}

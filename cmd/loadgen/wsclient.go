package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/protocol"
)

// dialer opens raw WebSocket connections. With several source addresses
// it spreads connections over 127.0.0.2, 127.0.0.3, … so that more than one
// ephemeral port range is available towards one gateway port.
type dialer struct {
	kind    target
	clients []*http.Client
	next    atomic.Uint64
}

// newDialer returns a dialer for kind's protocol using srcIPs loopback
// source addresses (0 or 1: let the kernel choose).
func newDialer(kind target, srcIPs int) *dialer {
	d := &dialer{kind: kind}
	if srcIPs <= 1 {
		d.clients = []*http.Client{{Transport: &http.Transport{DisableCompression: true}}}
		return d
	}
	for i := range srcIPs {
		nd := &net.Dialer{
			Timeout:   10 * time.Second,
			LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(2+i))},
		}
		d.clients = append(d.clients, &http.Client{Transport: &http.Transport{DialContext: nd.DialContext, DisableCompression: true}})
	}
	return d
}

// dial connects to url and sends hello (resuming after from when not
// nil). Reading is the caller's (readLoop).
func (d *dialer) dial(ctx context.Context, url, token string, from *resumeFrom) (*websocket.Conn, error) {
	hc := d.clients[d.next.Add(1)%uint64(len(d.clients))]
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPClient: hc, CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, fmt.Errorf("ws: dial: %w", err)
	}
	c.SetReadLimit(4 << 20)
	if err := c.Write(ctx, websocket.MessageText, d.kind.hello(token, from)); err != nil {
		_ = c.CloseNow()
		return nil, fmt.Errorf("ws: hello: %w", err)
	}
	return c, nil
}

// handler receives what readLoop reads; now is the time the frame was
// read. The alarm's ID is valid only during the call.
type handler struct {
	Welcome func(w welcome, now time.Time)
	Alarm   func(a benchAlarm, now time.Time)
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// errBadWelcome reports a welcome that does not decode.
var errBadWelcome = errors.New("ws: bad welcome")

// readLoop reads frames of kind's protocol until the connection ends and
// returns why. It owns the connection's writes after the hello: it
// answers pings.
func readLoop(c *websocket.Conn, kind target, h handler) error {
	for {
		_, r, err := c.Reader(context.Background())
		if err != nil {
			return err
		}
		buf := bufPool.Get().(*bytes.Buffer)
		buf.Reset()
		_, err = buf.ReadFrom(r)
		now := time.Now()
		var reply []byte
		if err == nil {
			reply, err = kind.dispatch(buf.Bytes(), now, h)
		}
		if buf.Cap() <= 64<<10 {
			bufPool.Put(buf)
		}
		if err == nil && reply != nil {
			err = writeReply(c, reply)
		}
		if err != nil {
			return err
		}
	}
}

// writeReply writes b with a deadline.
func writeReply(c *websocket.Conn, b []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, b)
}

// dispatch hands every message of one alarmgate frame to h.
func dispatch(frame []byte, now time.Time, h handler) error {
	var err error
	splitLines(frame, func(msg []byte) {
		switch {
		case bytes.HasPrefix(msg, alarmPrefix):
			if a, ok := parseAlarm(msg); ok && h.Alarm != nil {
				h.Alarm(a, now)
			}
		case bytes.HasPrefix(msg, welcomePrefix):
			var w protocol.Welcome
			if jerr := json.Unmarshal(msg, &w); jerr != nil {
				err = errBadWelcome
				return
			}
			if h.Welcome != nil {
				h.Welcome(welcome{Node: w.Node, Position: w.Position, Epoch: w.Epoch, Status: w.Resume.Status, Replayed: w.Resume.Replayed}, now)
			}
		}
	})
	return err
}

// connectAll runs connect(i) for every i in [0, n), at most par at once,
// and returns how many failed and the first error.
func connectAll(ctx context.Context, n, par int, connect func(ctx context.Context, i int) error) (int, error) {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	var mu sync.Mutex
	failed, first := 0, error(nil)
	for i := range n {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return failed + n - i, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := connect(ctx, i); err != nil {
				mu.Lock()
				failed++
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return failed, first
}

// waitFor waits for ch to close, up to limit.
func waitFor(ctx context.Context, ch <-chan struct{}, limit time.Duration) error {
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-ch:
		return nil
	case <-t.C:
		return errors.New("ws: no welcome in time")
	case <-ctx.Done():
		return ctx.Err()
	}
}

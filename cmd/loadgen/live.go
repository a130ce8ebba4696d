package main

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// maxSteps bounds the ramp; warmupStep collects what a warm-up publishes.
const (
	maxSteps   = 48
	warmupStep = maxSteps - 1
)

// liveStats collects what the receivers of fanout and latency see, per
// step: the data of every benchmark alarm names its step.
type liveStats struct {
	steps   [maxSteps]stepCounter
	foreign atomic.Uint64 // alarms whose data loadgen did not make
	open    atomic.Int64  // connections whose reader runs
}

type stepCounter struct {
	received atomic.Uint64
	lat      hist // publish (before the HTTP request) to receive, ns
}

func (st *liveStats) onAlarm(a benchAlarm, now time.Time) {
	if a.T == 0 || a.Step < 0 || a.Step >= maxSteps {
		st.foreign.Add(1)
		return
	}
	sc := &st.steps[a.Step]
	sc.received.Add(1)
	sc.lat.Record(now.UnixNano() - a.T)
}

// liveConns are the open receiver connections.
type liveConns struct {
	conns []*websocket.Conn
	wg    sync.WaitGroup // one per reader goroutine
}

// Close closes every connection and waits for the readers.
func (lc *liveConns) Close() {
	for _, c := range lc.conns {
		if c != nil {
			_ = c.CloseNow()
		}
	}
	lc.wg.Wait()
}

// openLive connects len(toks) receivers, client i to the node nodeOf(i),
// each counting into st, and returns once every one has its welcome.
func openLive(ctx context.Context, cl *cluster, d *dialer, toks []string, nodeOf func(int) int, st *liveStats) (*liveConns, error) {
	lc := &liveConns{conns: make([]*websocket.Conn, len(toks))}
	failed, err := connectAll(ctx, len(toks), 64, func(ctx context.Context, i int) error {
		c, err := d.dial(ctx, cl.nodes[nodeOf(i)].WS(), toks[i], nil)
		if err != nil {
			return err
		}
		lc.conns[i] = c
		welcomed := make(chan struct{})
		var once sync.Once
		st.open.Add(1)
		lc.wg.Go(func() {
			defer st.open.Add(-1)
			_ = readLoop(c, d.kind, handler{
				Welcome: func(welcome, time.Time) { once.Do(func() { close(welcomed) }) },
				Alarm:   st.onAlarm,
			})
		})
		return waitFor(ctx, welcomed, 20*time.Second)
	})
	if err != nil {
		lc.Close()
		return nil, fmt.Errorf("connect: %d of %d failed: %w", failed, len(toks), err)
	}
	return lc, nil
}

// waitCount polls until counter reaches want or limit passes, and returns
// how long it waited.
func waitCount(ctx context.Context, counter *atomic.Uint64, want uint64, limit time.Duration) time.Duration {
	start := time.Now()
	for counter.Load() < want && time.Since(start) < limit && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/alarmgate/alarmgate/internal/stream"
)

const (
	// readHeaderTimeout bounds how long a client may take to send its
	// request headers.
	readHeaderTimeout = 10 * time.Second
	// ShutdownGrace is what Serve allows Shutdown beyond DrainDelay and
	// CloseSpread before it forces the rest closed.
	ShutdownGrace = 10 * time.Second
)

// lifecycle is the state Serve and Shutdown share.
type lifecycle struct {
	http *http.Server // serves Handler on Serve's listener

	mu       sync.Mutex
	serving  bool               // guarded by mu; Serve was called
	stopping bool               // guarded by mu; Shutdown was called
	stopRun  context.CancelFunc // guarded by mu; ends the feed and helpers; nil before Serve
	wg       sync.WaitGroup     // Serve's goroutines, added under mu while !stopping

	layout    chan error    // buffered 1: checkLayout's result, nil once the layout is found the node's
	stopStart chan struct{} // closed when Shutdown starts
	stopped   chan struct{} // closed when Shutdown has finished
	err       error         // Shutdown's result; written before stopped is closed
}

// init prepares l to serve h; New calls it. read and idle bound how long
// a connection may take to send one request and wait for the next (see
// Config.ReadTimeout); the WebSocket handler clears the deadline read sets
// once it has hijacked the connection.
func (l *lifecycle) init(h http.Handler, read, idle time.Duration, log *slog.Logger) {
	l.http = &http.Server{
		Handler: h, ReadHeaderTimeout: min(readHeaderTimeout, read), ReadTimeout: read, IdleTimeout: idle,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	l.layout = make(chan error, 1)
	l.stopStart = make(chan struct{})
	l.stopped = make(chan struct{})
}

// Serve starts the node and serves HTTP on ln until ctx ends or Shutdown
// is called, and returns once the node has stopped. Serve may be called
// once, and not after Shutdown.
//
// It starts each partition's publish pipeliner and backlog reader, the
// write watchdog, the readiness gauge and the layout check, each on a
// goroutine of its own that stops in Shutdown, and serves ln. Once the
// layout check has found Redis' partition layout to be the node's, it
// starts, for each partition, the live feed (it subscribes, loads the
// window and keeps it current) and (when configured) the ingest
// consumer. The node reports ready (/readyz 200) as Ready says: with one
// partition once its feed is current; see WaitReady.
//
// When ctx ends, serving fails or Redis holds another partition layout
// (stream.ErrLayout), Serve runs Shutdown with a deadline of DrainDelay +
// CloseSpread + 10s; a Shutdown error is logged. Serve returns nil after
// a clean stop, else the HTTP server's error or the layout's refusal.
func (n *Node) Serve(ctx context.Context, ln net.Listener) error {
	served, err := n.start(ln)
	if err != nil {
		return err
	}
	layout := n.life.layout // nil once the layout is found the node's: keep serving
	for waiting := true; waiting; {
		waiting = false
		select {
		case <-ctx.Done():
		case <-n.life.stopStart:
		case err = <-layout:
			if err == nil {
				layout, waiting = nil, true
			}
		case err = <-served:
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			} else {
				err = fmt.Errorf("node: serve: %w", err)
			}
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), n.cfg.DrainDelay+n.cfg.CloseSpread+ShutdownGrace)
	defer cancel()
	if serr := n.Shutdown(sctx); serr != nil {
		n.log.Warn("node: shutdown", "err", serr)
	}
	<-n.life.stopped
	return err
}

// start starts Serve's goroutines. The channel receives the HTTP server's
// result.
func (n *Node) start(ln net.Listener) (<-chan error, error) {
	n.life.mu.Lock()
	defer n.life.mu.Unlock()
	if n.life.serving || n.life.stopping {
		return nil, errors.New("node: Serve called twice or after Shutdown")
	}
	n.life.serving = true
	runCtx, stopRun := context.WithCancel(context.Background())
	n.life.stopRun = stopRun
	// The feeds, pipeliners, backlog readers, ingest consumers, watchdog,
	// gauge and layout check stop when Shutdown cancels runCtx (step 4),
	// the HTTP server when Shutdown stops it (step 3). Shutdown waits for
	// all of them.
	for _, p := range n.parts {
		n.life.wg.Go(func() { p.pipe.Run(runCtx) })
		n.life.wg.Go(func() { p.backlog.Run(runCtx) })
	}
	n.life.wg.Go(func() { n.ws.RunWriteWatchdog(runCtx) })
	n.life.wg.Go(func() { n.readyGauge(runCtx) })
	// The feeds and ingest consumers write to Redis on their own (a new
	// epoch, a lease): they start once the layout is found the node's.
	// (Adding to wg from a goroutine wg counts is allowed while Shutdown
	// waits.)
	n.life.wg.Go(func() {
		err := n.checkLayout(runCtx)
		if err == nil && runCtx.Err() == nil {
			for _, p := range n.parts {
				n.life.wg.Go(func() { _ = p.feed.Run(runCtx) })
				if p.ingest != nil {
					n.life.wg.Go(func() { _ = p.ingest.Run(runCtx) })
				}
			}
		}
		n.life.layout <- err
	})
	served := make(chan error, 1)
	n.life.wg.Go(func() { served <- n.life.http.Serve(ln) })
	return served, nil
}

// Shutdown stops the node. The stop sequence lives here and only here:
//
//  1. Ready turns false: /readyz answers 503 and load balancers route
//     new clients elsewhere. Everything else keeps working, new
//     connections included, for DrainDelay.
//  2. Every WebSocket is closed with 1012 and every SSE stream ends with
//     a 1012 close event, each transport's closes spread over
//     CloseSpread; upgrades and streams from now on are closed with 1012
//     at once. Shutdown waits for every session, stream and goroutine.
//  3. The HTTP server stops accepting and waits for in-flight requests
//     (publishes) to finish, and for the upgrades refused in step 2.
//  4. Every partition's live feed, publish pipeliner, backlog reader and
//     ingest consumer, the write watchdog, the readiness gauge and the
//     layout check stop (a consumer releases its lease, so a standby
//     takes over at once);
//     Shutdown waits for every goroutine Serve started, and Serve returns.
//
// When ctx ends, the waits of steps 1 to 3 are cut short: the remaining
// sockets and HTTP connections are closed at once. Shutdown still waits
// for Serve's goroutines and then returns an error wrapping ctx.Err().
// Shutdown may be called before, during or after Serve, and more than
// once: later calls wait for the first to finish (or for their ctx to
// end) and return its result.
func (n *Node) Shutdown(ctx context.Context) error {
	n.life.mu.Lock()
	first := !n.life.stopping
	n.life.stopping = true
	n.life.mu.Unlock()
	if first {
		close(n.life.stopStart)
		n.life.err = n.stop(ctx)
		close(n.life.stopped)
	}
	select {
	case <-n.life.stopped:
		return n.life.err
	case <-ctx.Done():
		return fmt.Errorf("node: shutdown: %w", ctx.Err())
	}
}

// stop runs the sequence Shutdown documents.
func (n *Node) stop(ctx context.Context) error {
	n.draining.Store(true) // 1
	n.log.Info("node: draining", "delay", n.cfg.DrainDelay)
	t := time.NewTimer(n.cfg.DrainDelay)
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	t.Stop()
	var errs []error
	sseDone := make(chan error, 1)
	go func() { sseDone <- n.sse.Shutdown(ctx, n.cfg.CloseSpread) }() // 2; waited for below
	if err := n.ws.Shutdown(ctx, n.cfg.CloseSpread); err != nil {
		errs = append(errs, fmt.Errorf("closing websockets: %w", err))
	}
	if err := <-sseDone; err != nil {
		errs = append(errs, fmt.Errorf("ending sse streams: %w", err))
	}
	if err := n.life.http.Shutdown(ctx); err != nil { // 3
		_ = n.life.http.Close()
		errs = append(errs, fmt.Errorf("http: %w", err))
	}
	if err := n.ws.Wait(ctx); err != nil {
		errs = append(errs, fmt.Errorf("refused upgrades: %w", err))
	}
	n.life.mu.Lock()
	stopRun := n.life.stopRun
	n.life.mu.Unlock()
	if stopRun != nil { // 4
		stopRun()
	}
	n.life.wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("node: shutdown: %w", err)
	}
	return nil
}

// checkLayout checks, once Redis answers, that it holds the node's
// partition layout (stream.Store.CheckLayout), and marks the node able to
// become ready. It returns nil once it is, or when ctx ends first, and the
// refusal when Redis holds another layout: Serve then stops the node and
// returns it.
func (n *Node) checkLayout(ctx context.Context) error {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		err := n.parts[0].store.CheckLayout(ctx)
		if err == nil {
			n.layout.Store(true)
			return nil
		}
		if errors.Is(err, stream.ErrLayout) {
			return fmt.Errorf("node: %w", err)
		}
		// Redis does not answer: the feeds log that and keep the node unready.
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// readyGauge samples Ready into the ready gauge every second until ctx
// ends.
func (n *Node) readyGauge(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			v := 0.0
			if n.Ready() {
				v = 1
			}
			n.m.Ready.Set(v)
		}
	}
}

package node

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

// closeCode reads c until it fails and returns the close code (-1 when
// the socket ended without one).
func closeCode(c *websocket.Conn) int {
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			return int(websocket.CloseStatus(err))
		}
	}
}

func get(t *testing.T, url string) int {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// TestDrainCloses1012AndFailsReadiness checks the order of Shutdown:
// /readyz answers 503 while the node keeps serving for the drain delay,
// then the sockets are closed with 1012, then Serve returns.
func TestDrainCloses1012AndFailsReadiness(t *testing.T) {
	const delay = 500 * time.Millisecond
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.DrainDelay = delay })
	c := rawHello(t, n, map[string]any{"type": "hello", "token": token(t, "5", nil, time.Hour)})
	if _, err := readMessages(t, c); err != nil {
		t.Fatal(err)
	}
	closed := make(chan time.Time, 1)
	var code int
	go func() { code = closeCode(c); closed <- time.Now() }()

	start := time.Now()
	go func() { _ = n.Shutdown(context.Background()) }()
	for get(t, n.url+"/readyz") != http.StatusServiceUnavailable {
		time.Sleep(5 * time.Millisecond)
	}
	not503 := time.Now()
	if got := get(t, n.url+"/healthz"); got != http.StatusOK {
		t.Errorf("healthz %d while draining, want 200", got)
	}
	if got := get(t, n.url+"/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("readyz %d while draining, want 503", got)
	}
	select {
	case at := <-closed:
		t.Fatalf("socket closed %v into the drain, before readyz checks ended", at.Sub(start))
	default:
	}
	closedAt := <-closed
	if code != 1012 {
		t.Fatalf("close %d, want 1012", code)
	}
	<-n.stopped
	servedAt := time.Now()
	if n.serveErr != nil {
		t.Fatalf("Serve: %v", n.serveErr)
	}
	if closedAt.Sub(start) < delay {
		t.Errorf("1012 after %v, before the drain delay %v", closedAt.Sub(start), delay)
	}
	if !not503.Before(closedAt) || servedAt.Before(closedAt) {
		t.Errorf("order: readyz 503 at %v, 1012 at %v, Serve returned at %v", not503.Sub(start), closedAt.Sub(start), servedAt.Sub(start))
	}
}

// TestShutdownLeavesNoGoroutine shuts a node down with live sessions
// receiving alarms and publishes in flight, and finds no goroutine left
// once Shutdown returns.
func TestShutdownLeavesNoGoroutine(t *testing.T) {
	ignore := goleak.IgnoreCurrent()
	n := startNode(t, testutil.Prefix(t), "a", func(c *Config) { c.DrainDelay = 200 * time.Millisecond })

	var readers sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		c := rawHello(t, n, map[string]any{"type": "hello", "token": token(t, "7", nil, time.Hour)})
		if _, err := readMessages(t, c); err != nil {
			t.Fatal(err)
		}
		readers.Go(func() { codes[i] = closeCode(c) })
	}
	var (
		publishers sync.WaitGroup
		published  atomic.Int64
		stopping   atomic.Bool
		during     atomic.Int64 // publishes accepted after Shutdown started
	)
	for range 4 {
		publishers.Go(func() {
			for i := 0; ; i++ {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_, err := n.publisher().Publish(ctx, "user:7", "test", map[string]int{"i": i}, "")
				cancel()
				if err != nil {
					return // the node stopped listening
				}
				published.Add(1)
				if stopping.Load() {
					during.Add(1)
				}
			}
		})
	}
	for published.Load() < 20 {
		time.Sleep(5 * time.Millisecond)
	}
	stopping.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	<-n.stopped
	if n.serveErr != nil && !errors.Is(n.serveErr, http.ErrServerClosed) {
		t.Fatalf("Serve: %v", n.serveErr)
	}
	publishers.Wait()
	readers.Wait()
	for i, code := range codes {
		if code != 1012 {
			t.Errorf("socket %d closed with %d, want 1012", i, code)
		}
	}
	if during.Load() == 0 {
		t.Error("no publish was accepted during the drain")
	}
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, ignore)
}

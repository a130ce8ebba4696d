package transport

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestChangesWait(t *testing.T) {
	var (
		mu sync.Mutex
		c  Changes
		n  = 3 // guarded by mu
	)
	done := make(chan error, 1)
	go func() { done <- c.Wait(context.Background(), &mu, func() bool { return n == 0 }) }()
	for range 3 {
		time.Sleep(5 * time.Millisecond)
		mu.Lock()
		n--
		c.NotifyLocked()
		mu.Unlock()
	}
	if err := <-done; err != nil {
		t.Fatalf("Wait: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Wait(ctx, &mu, func() bool { return false }); err != context.Canceled {
		t.Fatalf("Wait after cancel: %v", err)
	}
}

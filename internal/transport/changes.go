package transport

import (
	"context"
	"sync"
)

// Changes lets goroutines wait until a condition guarded by its owner's
// mutex holds, for example "no connection is left" during a drain. The
// owner calls NotifyLocked, holding that mutex, whenever the condition may
// have changed. The zero value is ready; a Changes is guarded by the
// owner's mutex.
type Changes struct {
	ch chan struct{} // made by a waiter, closed by NotifyLocked
}

// NotifyLocked wakes every waiter; mu must be held.
func (c *Changes) NotifyLocked() {
	if c.ch != nil {
		close(c.ch)
		c.ch = nil
	}
}

// Wait returns nil once done, called with mu held, reports true, or
// ctx.Err() when ctx ends first.
func (c *Changes) Wait(ctx context.Context, mu *sync.Mutex, done func() bool) error {
	for {
		mu.Lock()
		if done() {
			mu.Unlock()
			return nil
		}
		if c.ch == nil {
			c.ch = make(chan struct{})
		}
		ch := c.ch
		mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

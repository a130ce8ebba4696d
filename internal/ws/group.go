package ws

import "sync"

// group counts the goroutines a session runs besides its reader: the
// writer its queue starts, the closes the hub, the write watchdog and
// Shutdown ask for, and its timers' callbacks. Once closed it starts
// nothing more, so session.end can wait for every one of them, and the
// session (counted in Server.wg) outlives them all.
//
// mu is a leaf lock: Go takes it under hub.mu and Queue.mu (the queue's
// start func), so nothing may be called while holding it.
type group struct {
	mu     sync.Mutex
	closed bool // guarded by mu; no new goroutines
	wg     sync.WaitGroup
}

// Go runs f on a new goroutine counted by g. It starts nothing and reports
// false once g is closed. It never blocks on f.
func (g *group) Go(f func()) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Go(f)
	return true
}

// Func returns a func that runs f on the calling goroutine (a timer's),
// counted by g, and skips it once g is closed.
func (g *group) Func(f func()) func() {
	return func() {
		if !g.enter() {
			return
		}
		defer g.leave()
		f()
	}
}

// enter counts the calling goroutine (a timer's, or a pool worker taking
// its turn) until leave. It reports false, counting nothing, once g is
// closed.
func (g *group) enter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// leave ends what enter counted.
func (g *group) leave() { g.wg.Done() }

// closeAndWait refuses new goroutines and waits for the running ones. The
// caller must have made them return (closing the socket does).
func (g *group) closeAndWait() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	g.wg.Wait()
}

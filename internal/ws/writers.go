package ws

import (
	"context"
	"sync"
)

// writerPool drains the queues of sessions whose sockets take writes
// without blocking (see sockConn.tryWrite), on at most size goroutines
// started when work arrives and ending when there is none: a fan-out to
// thousands of sockets costs a few goroutine starts, not one per socket,
// and an idle node parks no writer. A worker never blocks on a socket: a
// session whose socket backs up goes on with a dedicated writer of its own.
//
// mu is a leaf lock: submit runs under hub.mu and Queue.mu.
type writerPool struct {
	size int

	mu      sync.Mutex
	ready   []*session // guarded by mu; sessions waiting for a turn, FIFO from head
	head    int        // guarded by mu
	running int        // guarded by mu; workers alive
	wg      sync.WaitGroup
}

// submit queues a turn for s (its queue has messages and no writer) and
// starts a worker if fewer than size run. It never blocks.
func (p *writerPool) submit(s *session) {
	p.mu.Lock()
	p.ready = append(p.ready, s)
	start := p.running < p.size
	if start {
		p.running++
	}
	p.mu.Unlock()
	if start {
		p.wg.Go(p.work)
	}
}

// next pops the next session, or reports false and retires the calling
// worker when there is none.
func (p *writerPool) next() (*session, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.ready) {
		p.ready, p.head = p.ready[:0], 0
		p.running--
		return nil, false
	}
	s := p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	return s, true
}

// work is a worker: it gives each waiting session a turn until none waits.
func (p *writerPool) work() {
	var f frameBuf // the worker's, reused for every frame it writes
	for {
		s, ok := p.next()
		if !ok {
			return
		}
		s.writeTurn(&f)
	}
}

// wait returns once no worker runs, or ctx.Err().
func (p *writerPool) wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() { p.wg.Wait(); close(done) }() // ends with the last worker
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

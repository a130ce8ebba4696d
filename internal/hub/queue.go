package hub

import "sync"

// Queue is the bounded list of encoded messages waiting to be written to
// one connection. The hub pushes without blocking; a writer goroutine,
// started by the queue when the first message arrives and ending when the
// queue is empty, drains it. So an idle connection parks no writer.
// All methods are safe for concurrent use. Lock order: hub.mu before
// Queue.mu (see Hub); start and overflew run under Queue.mu and must take
// only leaf locks.
type Queue struct {
	limit    int
	start    func() // starts a writer goroutine; called with mu held, must not block
	overflew func() // reports the first refused push; called with mu held, must not block

	mu       sync.Mutex
	msgs     [][]byte // guarded by mu
	spare    [][]byte // guarded by mu; the writer's previous batch, reused
	running  bool     // guarded by mu; a writer is active
	overflow bool     // guarded by mu; a push found the queue full
	closed   bool     // guarded by mu; no more pushes are accepted
	held     bool     // guarded by mu; pushes wait, no writer starts (a resume is being read)
	exempt   int      // guarded by mu; leading msgs (welcome and replay) outside the limit
}

// NewQueue returns a queue holding at most limit live messages; start is
// called (under the queue's lock, so it must only spawn a goroutine) each
// time a writer is needed, and overflew (likewise, may be nil) once, when
// the first push is refused: a writer blocked on a stuck socket would only
// notice at its next Take.
func NewQueue(limit int, start, overflew func()) *Queue {
	return &Queue{limit: limit, start: start, overflew: overflew}
}

// Push appends msg. It returns false, and marks the queue overflowed, when
// limit messages are already waiting; the writer then sees Overflowed.
func (q *Queue) Push(msg []byte) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed || q.overflow {
		return !q.overflow
	}
	if len(q.msgs)-q.exempt >= q.limit {
		q.overflow = true
		if q.overflew != nil {
			q.overflew()
		}
		q.wakeLocked()
		return false
	}
	q.msgs = append(q.msgs, msg)
	q.wakeLocked()
	return true
}

// hold makes pushes wait, without a writer, until release.
func (q *Queue) hold() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.held = true
}

// release puts first (the welcome and the replay) before every waiting
// message, outside the limit (a replay must be whole; the limit bounds
// what the hub adds live), ends a hold and wakes the writer.
func (q *Queue) release(first [][]byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	q.msgs = append(first, q.msgs...)
	q.exempt += len(first)
	q.held = false
	q.wakeLocked()
}

func (q *Queue) wakeLocked() {
	if !q.running && !q.closed && !q.held {
		q.running = true
		q.start()
	}
}

// Take hands the writer every waiting message. When there is none it marks
// the writer stopped and returns ok=false: the writer must return. A
// writer calls Take again only after it finished with the previous batch,
// whose slice is then reused. overflow reports that a push was refused.
func (q *Queue) Take() (msgs [][]byte, overflow, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.overflow {
		return nil, true, true
	}
	if len(q.msgs) == 0 || q.closed {
		q.running = false
		return nil, false, false
	}
	msgs = q.msgs
	q.exempt = 0
	clear(q.spare)
	q.msgs = q.spare[:0]
	q.spare = msgs
	return msgs, false, true
}

// Close refuses further pushes and drops what is waiting.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.msgs = nil
	q.spare = nil
}

// Len returns the number of waiting messages.
func (q *Queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.msgs)
}

package ws

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// sockConn is a hijacked socket as both coder/websocket and the session's
// writers see it. Every byte bound for the socket goes through it under
// mu, in one order:
//
//   - the library writes the handshake response and control frames (pong,
//     close) through Write, which blocks;
//   - the writer pool writes data frames through tryWrite, which never
//     blocks: bytes the kernel does not take at once are kept in pending,
//     and the caller hands the session to a dedicated writer;
//   - a dedicated writer writes data frames through writeData, which
//     blocks, pending first.
//
// Data frames are built by the session (see frame.go), not by the
// library: a library frame costs two channel-based locks, a bufio copy and
// a flush. Each library write is one whole control frame (the library
// flushes after every final frame, and a control frame fits its write
// buffer), so frames never interleave; once the library has written a
// close frame no data frame follows it.
type sockConn struct {
	net.Conn
	// raw does the non-blocking writes; nil when the socket cannot (TLS):
	// then every data write is a dedicated writer's, as tryWrite reports.
	raw syscall.RawConn

	// writeStart is the unix nanos at which a blocking write in progress
	// began, 0 when none: the write watchdog closes sockets whose write
	// outlives WriteTimeout.
	writeStart atomic.Int64

	mu         sync.Mutex
	pending    []byte // guarded by mu; the unwritten rest of a tryWrite, written before anything else
	dataClosed bool   // guarded by mu; a close frame went out: no more data frames
}

// errDataClosed reports a data frame refused after the close frame.
var errDataClosed = errors.New("ws: close frame sent")

// maxKeptPending is the largest pending buffer kept for reuse once drained.
const maxKeptPending = 4 << 10

func newSockConn(c net.Conn) *sockConn {
	sc := &sockConn{Conn: c}
	if tc, ok := c.(*net.TCPConn); ok {
		if raw, err := tc.SyscallConn(); err == nil {
			sc.raw = raw
		}
	}
	return sc
}

// Write writes p whole, after pending, blocking until the socket takes it.
// It is the library's path: a server's close frame starts with 0x88 (FIN,
// opcode close), which no handshake response (ASCII) does.
func (c *sockConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.flushLocked(); err != nil {
		return 0, err
	}
	if len(p) > 0 && p[0] == 0x88 {
		c.dataClosed = true
	}
	return c.blockingWriteLocked(p)
}

// writeBlocking is writeData with tryWrite's results: p is always taken
// and the socket never reported backed up.
func (c *sockConn) writeBlocking(p []byte) (taken, blocked bool, err error) {
	if err := c.writeData(p); err != nil {
		return false, false, err
	}
	return true, false, nil
}

// writeData writes the data frame p, after pending, blocking.
func (c *sockConn) writeData(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.dataClosed {
		return errDataClosed
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	_, err := c.blockingWriteLocked(p)
	return err
}

// tryWrite writes the data frame p without blocking. It reports
// taken=true when p is committed: written, or its unwritten rest kept in
// pending; blocked=true when the socket is backed up (pending is not
// empty, or another write holds the socket): the session must go on with
// a dedicated writer (writeData), which writes pending first. When taken
// is false, p was not written at all.
func (c *sockConn) tryWrite(p []byte) (taken, blocked bool, err error) {
	if c.raw == nil || !c.mu.TryLock() {
		return false, true, nil
	}
	defer c.mu.Unlock()
	if c.dataClosed {
		return false, false, errDataClosed
	}
	if len(c.pending) > 0 {
		return false, true, nil
	}
	n, err := c.nonBlockingWriteLocked(p)
	if err != nil {
		return false, false, err
	}
	if n == len(p) {
		return true, false, nil
	}
	c.pending = append(c.pending[:0], p[n:]...)
	return true, true, nil
}

// nonBlockingWriteLocked makes one write(2) attempt (retrying EINTR) and
// returns how much the kernel took: 0 on EAGAIN.
func (c *sockConn) nonBlockingWriteLocked(p []byte) (int, error) {
	var n int
	var werr error
	err := c.raw.Write(func(fd uintptr) bool {
		for {
			n, werr = syscall.Write(int(fd), p)
			if werr != syscall.EINTR {
				break
			}
		}
		return true // never wait for writability: that is a dedicated writer's job
	})
	if errors.Is(werr, syscall.EAGAIN) {
		return 0, nil
	}
	if err == nil {
		err = werr
	}
	if err != nil {
		return 0, err
	}
	return max(n, 0), nil
}

// flush writes pending, blocking.
func (c *sockConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

// flushLocked writes pending, blocking.
func (c *sockConn) flushLocked() error {
	if len(c.pending) == 0 {
		return nil
	}
	_, err := c.blockingWriteLocked(c.pending)
	if cap(c.pending) > maxKeptPending {
		c.pending = nil
	} else {
		c.pending = c.pending[:0]
	}
	return err
}

// blockingWriteLocked writes p, stamped for the write watchdog.
func (c *sockConn) blockingWriteLocked(p []byte) (int, error) {
	c.writeStart.Store(time.Now().UnixNano())
	defer c.writeStart.Store(0)
	return c.Conn.Write(p)
}

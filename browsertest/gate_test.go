package browsertest

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gate is a TCP pass-through to one node that the test can shut: while shut
// it accepts connections and closes them at once, so the browser's WebSocket
// to that node fails and the page stays disconnected for as long as the test
// needs (the page's reconnect backoff alone is too short to publish into).
type gate struct {
	ln      net.Listener
	target  string
	open    atomic.Bool
	refused atomic.Int64 // connections closed while shut

	mu    sync.Mutex
	conns map[net.Conn]struct{} // guarded by mu; live piped connections
	wg    sync.WaitGroup
}

func newGate(t *testing.T, target string) *gate {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("gate: listen: %v", err)
	}
	g := &gate{ln: ln, target: target, conns: make(map[net.Conn]struct{})}
	g.open.Store(true)
	g.wg.Go(g.serve)
	t.Cleanup(g.close)
	return g
}

func (g *gate) addr() string { return g.ln.Addr().String() }

func (g *gate) serve() {
	for {
		c, err := g.ln.Accept()
		if err != nil {
			return
		}
		if !g.open.Load() {
			g.refused.Add(1)
			_ = c.Close()
			continue
		}
		g.wg.Go(func() { g.pipe(c) })
	}
}

// pipe copies both ways between c and a new connection to the target.
func (g *gate) pipe(c net.Conn) {
	up, err := net.DialTimeout("tcp", g.target, 5*time.Second)
	if err != nil {
		_ = c.Close()
		return
	}
	if !g.track(c, up) {
		return
	}
	defer g.untrack(c, up)
	done := make(chan struct{}, 2)
	for _, p := range [][2]net.Conn{{up, c}, {c, up}} {
		g.wg.Go(func() {
			_, _ = io.Copy(p[0], p[1])
			done <- struct{}{}
		})
	}
	<-done
	_ = c.Close()
	_ = up.Close()
	<-done
}

// track registers a live pair; false (and both closed) when the gate closed.
func (g *gate) track(c, up net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.conns == nil {
		_ = c.Close()
		_ = up.Close()
		return false
	}
	g.conns[c], g.conns[up] = struct{}{}, struct{}{}
	return true
}

func (g *gate) untrack(c, up net.Conn) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.conns, c)
	delete(g.conns, up)
}

// close stops accepting, cuts every piped connection and waits for the
// goroutines.
func (g *gate) close() {
	_ = g.ln.Close()
	g.mu.Lock()
	for c := range g.conns {
		_ = c.Close()
	}
	g.conns = nil
	g.mu.Unlock()
	g.wg.Wait()
}

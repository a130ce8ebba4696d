package testproc

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// clusterBus is the offset of a Redis Cluster node's bus port.
const clusterBus = 10000

// Port range FreePort draws from: below the kernel's ephemeral range (read
// from ephemeralRangePath; defaultEphemeralLow when unreadable), so neither
// a bind to port 0 nor an outgoing connection can take a port while the
// process it was handed to is down between a kill and a restart, with room
// for the cluster bus port above each.
const (
	ephemeralRangePath  = "/proc/sys/net/ipv4/ip_local_port_range"
	defaultEphemeralLow = 32768
	minPort             = 10000
	minPorts            = 1000 // fewer candidates than this: use the kernel's choice
	tries               = 200  // candidates tried before giving up
)

// ports is the process-wide reservation of the ports FreePort handed out
// (a process runs the nodes of many tests; a port is never reused).
var ports = newPortPool(minPort, ephemeralLow()-clusterBus,
	filepath.Join(os.TempDir(), "alarmgate-testproc-ports"))

// FreePort returns a loopback TCP port reserved for this process until it
// exits: FreePort never returns it again, and no other process using this
// package gets it (a lock file in the temporary directory, released when
// the process dies). The port and its Redis Cluster bus port (port+10000)
// were free when reserved and lie below the kernel's ephemeral range, so
// only a process binding them by number can take them.
func FreePort() (int, error) { return ports.take() }

// portPool hands out ports of [lo, hi) whose bus ports (+clusterBus) are
// free too. Safe for concurrent use.
type portPool struct {
	lo, hi int
	kernel bool   // [lo, hi) is too narrow: take the kernel's choice
	dir    string // lock files, one per port
	mu     sync.Mutex
	used   map[int]*os.File // guarded by mu: reserved ports, their lock (nil: none)
}

func newPortPool(lo, hi int, dir string) *portPool {
	return &portPool{lo: lo, hi: hi, kernel: hi-lo < minPorts, dir: dir, used: map[int]*os.File{}}
}

// take reserves and returns a port: from [lo, hi), or one the kernel picks
// (still never one handed out before).
func (p *portPool) take() (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.kernel {
		return p.takeKernelLocked()
	}
	for range tries {
		port := p.lo + rand.IntN(p.hi-p.lo)
		if p.reserveLocked(port) {
			return port, nil
		}
	}
	return 0, fmt.Errorf("free port: none of %d tries in %d-%d was free", tries, p.lo, p.hi-1)
}

// takeKernelLocked is take for a system without room below its ephemeral
// range.
func (p *portPool) takeKernelLocked() (int, error) {
	for range tries {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, fmt.Errorf("free port: %w", err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		_ = ln.Close()
		if p.reserveLocked(port) {
			return port, nil
		}
	}
	return 0, errors.New("free port: the kernel offered only reserved ports")
}

// reserveLocked reserves port and its bus port if neither is reserved,
// locked by another process or bound now.
func (p *portPool) reserveLocked(port int) bool {
	bus := port + clusterBus
	if _, ok := p.used[port]; ok {
		return false
	}
	if _, ok := p.used[bus]; ok {
		return false
	}
	lock, ok := lockPort(p.dir, port)
	if !ok {
		return false
	}
	busLock, ok := lockPort(p.dir, bus)
	if !ok || !bindable(port) || !bindable(bus) {
		closeLock(lock)
		closeLock(busLock)
		return false
	}
	p.used[port], p.used[bus] = lock, busLock
	return true
}

// lockPort takes the lock file of port in dir without waiting. Without a
// usable dir it reports success with a nil lock (the in-process set and
// the bind check still apply).
func lockPort(dir string, port int) (*os.File, bool) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, true
	}
	f, err := os.OpenFile(filepath.Join(dir, strconv.Itoa(port)), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		return nil, true
	}
	if !tryLock(f) {
		_ = f.Close()
		return nil, false
	}
	return f, true
}

func closeLock(f *os.File) {
	if f != nil {
		_ = f.Close() // releases the lock
	}
}

// bindable reports whether 127.0.0.1:port can be listened on now.
func bindable(port int) bool {
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	_ = ln.Close()
	return true
}

// ephemeralLow returns the low end of the kernel's ephemeral port range.
func ephemeralLow() int {
	b, err := os.ReadFile(ephemeralRangePath)
	if err != nil {
		return defaultEphemeralLow
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return defaultEphemeralLow
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return defaultEphemeralLow
	}
	return lo
}

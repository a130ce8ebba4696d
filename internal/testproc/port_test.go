package testproc

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestFreePortNeverRepeats: FreePort never hands out a port twice in one
// process, and (on Linux) never one the kernel may give an outgoing
// connection or another bind to port 0 while a node is down between a
// kill and a restart: neither the port nor its Redis Cluster bus port
// (+10000) is in the ephemeral range.
func TestFreePortNeverRepeats(t *testing.T) {
	lo, hi := 0, -1
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		f := strings.Fields(string(b))
		lo, _ = strconv.Atoi(f[0])
		hi, _ = strconv.Atoi(f[1])
	}
	seen := map[int]bool{}
	for range 200 {
		p, err := FreePort()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []int{p, p + clusterBus} {
			if seen[q] {
				t.Fatalf("port %d handed out twice", q)
			}
			seen[q] = true
			if q >= lo && q <= hi {
				t.Fatalf("port %d is in the ephemeral range %d-%d", q, lo, hi)
			}
		}
	}
}

// TestPortPoolSkipsTaken: a port locked by another process, or bound, or
// whose bus port is either, is never handed out; one free port is, once.
func TestPortPoolSkipsTaken(t *testing.T) {
	free := func() int {
		p, err := FreePort() // reserved: nothing else in this process uses it
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	dir := t.TempDir()
	one := func(port int) *portPool { // a pool of one port
		return &portPool{lo: port, hi: port + 1, dir: dir, used: map[int]*os.File{}}
	}

	locked := free()
	other, ok := lockPort(dir, locked+clusterBus) // another process's lock
	if !ok || other == nil {
		t.Fatal("lockPort failed")
	}
	t.Cleanup(func() { closeLock(other) })
	if p, err := one(locked).take(); err == nil {
		t.Fatalf("took %d whose bus port another process locked", p)
	}

	bound := free()
	ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(bound))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	if p, err := one(bound).take(); err == nil {
		t.Fatalf("took %d, which is bound", p)
	}

	ok1 := free()
	pool := one(ok1)
	if p, err := pool.take(); err != nil || p != ok1 {
		t.Fatalf("take = %d, %v; want %d", p, err, ok1)
	}
	if p, err := pool.take(); err == nil {
		t.Fatalf("took %d a second time", p)
	}
	if _, ok := lockPort(dir, ok1); ok {
		t.Fatal("a handed-out port is not locked against other processes")
	}
}

package browsertest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testSecret = "browsertest-secret-0123456789"
	testAPIKey = "browsertest-key-0123456789"
	waitLimit  = 20 * time.Second // bound of every wait in this package
)

// logBuffer collects a process's output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// tail returns the last n lines.
func (b *logBuffer) tail(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	lines := strings.Split(strings.TrimRight(b.buf.String(), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// proc is a child process whose output goes to log.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  *logBuffer
	done chan struct{} // closed once the process was reaped
}

func startProc(t *testing.T, name string, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), log: &logBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, bin, err)
	}
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill sends SIGKILL and waits until the process is gone. Idempotent.
func (p *proc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		t.Fatalf("locate module root (go env GOMOD = %q): %v", gomod, err)
	}
	return filepath.Dir(gomod)
}

// buildGateway builds ./cmd/gateway into a temp dir and returns the binary.
func buildGateway(t *testing.T, root string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gateway")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/gateway")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/gateway: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startRedis runs a private redis-server (no persistence) and returns its URL.
func startRedis(t *testing.T) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server not found (apt-get install -y redis-server): %v", err)
	}
	port := freePort(t)
	p := startProc(t, "redis", os.Environ(), bin, "--port", fmt.Sprint(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	deadline := time.Now().Add(waitLimit)
	for !redisPong(addr) {
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("redis-server on %s did not answer PING within %v:\n%s", addr, waitLimit, p.log.tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return "redis://" + addr + "/0"
}

func redisPong(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

// node is one gateway process.
type node struct {
	id   string
	addr string // host:port
	*proc
}

func (n *node) httpURL() string { return "http://" + n.addr }
func (n *node) wsURL() string   { return "ws://" + n.addr + "/v1/ws" }

// startNode runs the gateway binary as node id on addr and waits for /readyz.
func startNode(t *testing.T, bin, redisURL, id, addr string) *node {
	t.Helper()
	env := []string{
		"GATEWAY_ADDR=" + addr,
		"GATEWAY_REDIS_URL=" + redisURL,
		"GATEWAY_JWT_SECRET=" + testSecret,
		"GATEWAY_API_KEYS=" + testAPIKey,
		"GATEWAY_NODE_ID=" + id,
		"GATEWAY_DEMO=true",
		// The page on node A's origin also connects to node B (another port).
		"GATEWAY_ALLOWED_ORIGINS=127.0.0.1:*",
		"GATEWAY_LOG_LEVEL=debug",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			env = append(env, kv)
		}
	}
	n := &node{id: id, addr: addr, proc: startProc(t, "node "+id, env, bin)}
	waitReady(t, n)
	return n
}

func waitReady(t *testing.T, n *node) {
	t.Helper()
	hc := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.httpURL()+"/readyz", nil)
		if res, err := hc.Do(req); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
		}
		if n.exited() || ctx.Err() != nil {
			t.Fatalf("node %s on %s not ready within %v (exited: %v):\n%s", n.id, n.addr, waitLimit, n.exited(), n.log.tail(30))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

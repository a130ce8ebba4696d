package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one restartable OS process (a gateway node or a redis-server)
// with its output appended to one log file across restarts.
type proc struct {
	name    string
	argv    []string
	env     []string // nil: the parent's environment
	logPath string

	mu     sync.Mutex    // guards cmd, done and starts
	cmd    *exec.Cmd     // the current (or last) incarnation
	done   chan struct{} // closed when cmd has exited
	starts int
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// start starts a new incarnation; the previous one must have exited.
func (p *proc) start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s: start: still running", p.name)
		}
	}
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("%s: log: %w", p.name, err)
	}
	defer f.Close() // the child keeps its own descriptor
	p.starts++
	fmt.Fprintf(f, "=== e2e: start #%d of %s at %s ===\n", p.starts, p.name, time.Now().Format(time.StampMilli))
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", p.name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// current returns the running incarnation and its done channel.
func (p *proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// running reports whether the current incarnation is alive.
func (p *proc) running() bool {
	_, done := p.current()
	if done == nil {
		return false
	}
	select {
	case <-done:
		return false
	default:
		return true
	}
}

// exited returns a channel closed when the current incarnation exits.
func (p *proc) exited() <-chan struct{} {
	_, done := p.current()
	if done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return done
}

// kill sends SIGKILL and waits for the exit.
func (p *proc) kill() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// terminate sends SIGTERM and waits up to limit for the exit; after that
// it kills the process and reports an error. It returns the exit code and
// how long the exit took.
func (p *proc) terminate(limit time.Duration) (int, time.Duration, error) {
	cmd, done := p.current()
	if cmd == nil {
		return 0, 0, fmt.Errorf("%s: not started", p.name)
	}
	begin := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, 0, fmt.Errorf("%s: SIGTERM: %w", p.name, err)
	}
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), time.Since(begin), nil
	case <-time.After(limit):
		p.kill()
		return -1, time.Since(begin), fmt.Errorf("%s: no exit within %v of SIGTERM (killed)", p.name, limit)
	}
}

// logNoise marks log lines that repeat for every failed request or dial
// while Redis or a node is down; logTail leaves them out.
var logNoise = [][]byte{[]byte(`"msg":"api: request failed"`), []byte("connection pool: failed to dial")}

// logTail returns the last n lines of the process's log, without the
// per-request noise (counted in a first line).
func (p *proc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	var keep [][]byte
	skipped := 0
	for _, l := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if slices.ContainsFunc(logNoise, func(s []byte) bool { return bytes.Contains(l, s) }) {
			skipped++
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	head := fmt.Sprintf("(%d failed-request/dial lines left out; full log: %s, kept when E2E_LOG_DIR is set)\n", skipped, p.logPath)
	return head + string(bytes.Join(keep, []byte("\n")))
}

// cleanEnv is the parent's environment without GATEWAY_* variables, so a
// developer's shell cannot change what a test configures.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			env = append(env, kv)
		}
	}
	return env
}

// redisArgs builds a redis-server command line on port in dir.
func redisArgs(port int, dir string, aof bool) []string {
	args := []string{"redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--dir", dir, "--logfile", "", "--protected-mode", "no"}
	if aof {
		return append(args, "--appendonly", "yes", "--appendfsync", "always")
	}
	return append(args, "--appendonly", "no")
}

var errNotReady = errors.New("not ready")

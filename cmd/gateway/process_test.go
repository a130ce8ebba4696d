package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// The gateway binary the process tests run, built once (buildOnce) into
// binDir, which TestMain removes.
var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	binErr    error
)

// gatewayBinary builds ./cmd/gateway once per test binary.
func gatewayBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		var root string
		if root, binErr = testproc.ModuleRoot(ctx); binErr != nil {
			return
		}
		if binDir, binErr = os.MkdirTemp("", "gateway-bin-"); binErr != nil {
			return
		}
		binPath, binErr = testproc.BuildGateway(ctx, root, binDir)
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// removeBinary removes what gatewayBinary built.
func removeBinary() {
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// gatewayProc is a gateway process whose stderr lines are collected.
type gatewayProc struct {
	cmd    *exec.Cmd
	stdout bytes.Buffer // written by cmd's copying goroutine until Wait returns
	mu     sync.Mutex
	lines  []string      // stderr lines so far, guarded by mu
	seen   chan struct{} // receives (without blocking) when a line arrives
	done   chan error    // Wait's result
}

// startGateway starts the binary with a clean environment plus env.
func startGateway(t *testing.T, env ...string) *gatewayProc {
	t.Helper()
	p := &gatewayProc{seen: make(chan struct{}, 1), done: make(chan error, 1)}
	p.cmd = exec.Command(gatewayBinary(t))
	p.cmd.Env = append(testproc.CleanEnv(), env...)
	p.cmd.Stdout = &p.stdout
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { // ends at the process's exit (EOF on stderr)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			p.mu.Unlock()
			select {
			case p.seen <- struct{}{}:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
		p.done <- p.cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	return p
}

// stderrLines returns the stderr lines so far.
func (p *gatewayProc) stderrLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// waitLine waits up to limit for a stderr line containing s.
func (p *gatewayProc) waitLine(t *testing.T, s string, limit time.Duration) {
	t.Helper()
	deadline := time.After(limit)
	for {
		for _, l := range p.stderrLines() {
			if strings.Contains(l, s) {
				return
			}
		}
		select {
		case <-p.seen:
		case <-deadline:
			t.Fatalf("no stderr line with %q within %v:\n%s", s, limit, strings.Join(p.stderrLines(), "\n"))
		}
	}
}

// wait waits up to limit for the process to exit and returns its exit
// code and how long it took.
func (p *gatewayProc) wait(t *testing.T, limit time.Duration) (int, time.Duration) {
	t.Helper()
	start := time.Now()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0, time.Since(start)
		case errors.As(err, &ee):
			return ee.ExitCode(), time.Since(start)
		}
		t.Fatal(err)
	case <-time.After(limit):
		t.Fatalf("still running after %v:\n%s", limit, strings.Join(p.stderrLines(), "\n"))
	}
	return 0, 0
}

// TestBadValueExitsBeforeStarting: a bad value stops the process before
// the embedded Redis or a listener starts; the first line it prints names
// the variable, and the misspelled variable is warned about by name.
func TestBadValueExitsBeforeStarting(t *testing.T) {
	addr := freeAddr(t)
	p := startGateway(t, "GATEWAY_ADDR="+addr, "GATEWAY_WINDOW=-1", "GATEWAY_WINDOWS=5")
	code, _ := p.wait(t, 30*time.Second)
	lines := p.stderrLines()
	if code != 1 || len(lines) == 0 || lines[0] != "gateway: GATEWAY_WINDOW: must be at least 1 (got -1)" {
		t.Fatalf("exit %d, stderr:\n%s", code, strings.Join(lines, "\n"))
	}
	all := strings.Join(lines, "\n")
	if !strings.Contains(all, "GATEWAY_WINDOWS is not a variable the gateway reads; it is ignored (did you mean GATEWAY_WINDOW?)") {
		t.Errorf("no warning about GATEWAY_WINDOWS:\n%s", all)
	}
	if strings.Contains(all, "embedded") || strings.Contains(all, "listening") || p.stdout.Len() > 0 {
		t.Errorf("something started:\n%s\n%s", all, p.stdout.String())
	}
}

// startDemo starts the embedded demo and waits until it listens.
func startDemo(t *testing.T, env ...string) *gatewayProc {
	t.Helper()
	p := startGateway(t, append([]string{"GATEWAY_ADDR=" + freeAddr(t), "GATEWAY_WINDOWS=5"}, env...)...)
	p.waitLine(t, "gateway: listening", 30*time.Second)
	return p
}

// TestDemoCtrlC: Ctrl-C (SIGINT) stops the demo at once: it has no other
// node to drain to. A misspelled variable was warned about at start.
func TestDemoCtrlC(t *testing.T) {
	p := startDemo(t)
	p.waitLine(t, "did you mean GATEWAY_WINDOW?", time.Second)
	time.Sleep(200 * time.Millisecond) // let the feed and the ingest consumer settle into their loops
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, took := p.wait(t, 10*time.Second)
	t.Logf("demo stopped %v after SIGINT", took)
	if code != 0 || took > 1500*time.Millisecond {
		t.Fatalf("exit %d after %v, want 0 well under 2s:\n%s", code, took, strings.Join(p.stderrLines(), "\n"))
	}
}

// TestSecondCtrlCExitsAtOnce: with a drain delay set, the first SIGINT
// drains; the second exits at once (128 + SIGINT).
func TestSecondCtrlCExitsAtOnce(t *testing.T) {
	p := startDemo(t, "GATEWAY_DRAIN_DELAY=30s")
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	p.waitLine(t, "node: draining", 5*time.Second)
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	code, took := p.wait(t, 10*time.Second)
	if code != 128+int(syscall.SIGINT) || took > time.Second {
		t.Fatalf("exit %d after %v, want %d at once:\n%s", code, took, 128+int(syscall.SIGINT), strings.Join(p.stderrLines(), "\n"))
	}
}

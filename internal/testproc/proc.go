package testproc

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"sync"
	"syscall"
	"time"
)

// Proc is one restartable OS process. Its output goes, across restarts, to
// LogPath (appended) when set, else to Output, else to an in-memory
// LogBuffer. Set the exported fields before the first Start and leave them
// alone afterwards; the methods are safe for concurrent use.
type Proc struct {
	Name    string
	Argv    []string
	Env     []string  // nil: the parent's environment
	LogPath string    // file the output is appended to
	Output  io.Writer // used when LogPath is empty
	// Noise marks log lines that LogTail leaves out (counted), such as
	// the errors repeated for every request while a dependency is down.
	Noise []string
	// DieWithParent asks the kernel to SIGKILL the child when the process
	// that started it dies (Linux only), so no process outlives a crashed
	// benchmark.
	DieWithParent bool

	mu     sync.Mutex    // guards the fields below
	cmd    *exec.Cmd     // the current (or last) incarnation
	done   chan struct{} // closed when cmd has exited
	starts int
	buf    *LogBuffer // output when neither LogPath nor Output is set
}

// Start starts a new incarnation; the previous one must have exited.
func (p *Proc) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("%s: start: still running", p.Name)
		}
	}
	p.starts++
	out, closeOut, err := p.outputLocked()
	if err != nil {
		return err
	}
	defer closeOut() // the child keeps its own descriptor
	cmd := exec.Command(p.Argv[0], p.Argv[1:]...)
	cmd.Env = p.Env
	cmd.Stdout, cmd.Stderr = out, out
	if p.DieWithParent {
		setDieWithParent(cmd)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: start: %w", p.Name, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	p.cmd, p.done = cmd, done
	return nil
}

// outputLocked returns the writer of the next incarnation and a func to
// call once it started.
func (p *Proc) outputLocked() (io.Writer, func(), error) {
	switch {
	case p.LogPath != "":
		f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: log: %w", p.Name, err)
		}
		fmt.Fprintf(f, "=== testproc: start #%d of %s at %s ===\n", p.starts, p.Name, time.Now().Format(time.StampMilli))
		return f, func() { _ = f.Close() }, nil
	case p.Output != nil:
		return p.Output, func() {}, nil
	}
	if p.buf == nil {
		p.buf = &LogBuffer{}
	}
	return p.buf, func() {}, nil
}

func (p *Proc) current() (*exec.Cmd, chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd, p.done
}

// PID returns the process id of the current incarnation, or 0.
func (p *Proc) PID() int {
	cmd, _ := p.current()
	if cmd == nil {
		return 0
	}
	return cmd.Process.Pid
}

// Running reports whether the current incarnation is alive.
func (p *Proc) Running() bool {
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

// Exited returns a channel closed when the current incarnation exits
// (closed already when none was started).
func (p *Proc) Exited() <-chan struct{} {
	_, done := p.current()
	if done == nil {
		c := make(chan struct{})
		close(c)
		return c
	}
	return done
}

// Kill sends SIGKILL and waits for the exit. It does nothing before the
// first Start or after the exit.
func (p *Proc) Kill() {
	cmd, done := p.current()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-done
}

// Terminate sends SIGTERM and waits up to limit for the exit; after that
// it kills the process and reports an error. It returns the exit code and
// how long the exit took.
func (p *Proc) Terminate(limit time.Duration) (int, time.Duration, error) {
	cmd, done := p.current()
	if cmd == nil {
		return 0, 0, fmt.Errorf("%s: not started", p.Name)
	}
	begin := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, 0, fmt.Errorf("%s: SIGTERM: %w", p.Name, err)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode(), time.Since(begin), nil
	case <-t.C:
		p.Kill()
		return -1, time.Since(begin), fmt.Errorf("%s: no exit within %v of SIGTERM (killed)", p.Name, limit)
	}
}

// LogTail returns the last n lines of the output, without Noise lines.
// For a LogPath it starts with a line saying how many lines were left out
// and where the full log is. Output written to an Output writer is not
// kept: its tail is empty.
func (p *Proc) LogTail(n int) string {
	p.mu.Lock()
	buf := p.buf
	p.mu.Unlock()
	var b []byte
	switch {
	case p.LogPath != "":
		var err error
		if b, err = os.ReadFile(p.LogPath); err != nil {
			return "(no log: " + err.Error() + ")"
		}
	case buf != nil:
		b = buf.Bytes()
	}
	keep, skipped := tailLines(b, n, p.Noise)
	if p.LogPath == "" {
		return keep
	}
	return fmt.Sprintf("(%d noise lines left out; full log: %s)\n%s", skipped, p.LogPath, keep)
}

// tailLines returns the last n lines of b that contain none of noise, and
// how many lines were left out as noise.
func tailLines(b []byte, n int, noise []string) (string, int) {
	var keep [][]byte
	skipped := 0
	for _, l := range bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n")) {
		if slices.ContainsFunc(noise, func(s string) bool { return bytes.Contains(l, []byte(s)) }) {
			skipped++
			continue
		}
		keep = append(keep, l)
	}
	if len(keep) > n {
		keep = keep[len(keep)-n:]
	}
	return string(bytes.Join(keep, []byte("\n"))), skipped
}

// LogBuffer collects a process's output in memory. It is safe for
// concurrent use.
type LogBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer // guarded by mu
}

// Write appends to the buffer.
func (b *LogBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Bytes returns a copy of everything written.
func (b *LogBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

// Tail returns the last n lines.
func (b *LogBuffer) Tail(n int) string {
	s, _ := tailLines(b.Bytes(), n, nil)
	return s
}

// Signal sends sig to the current incarnation, e.g. SIGSTOP to freeze it
// and SIGCONT to let it go on.
func (p *Proc) Signal(sig syscall.Signal) error {
	cmd, _ := p.current()
	if cmd == nil {
		return fmt.Errorf("%s: not started", p.Name)
	}
	return cmd.Process.Signal(sig)
}

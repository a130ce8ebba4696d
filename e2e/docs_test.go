package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// goDocsMarker precedes each fenced Go program of docs/go-client.md that
// TestDocsGoClient builds and runs.
const goDocsMarker = "<!-- tested: e2e TestDocsGoClient"

// docsWait bounds each wait of TestDocsGoClient, builds included.
const docsWait = 3 * time.Minute

// TestDocsGoClient builds the two programs printed in docs/go-client.md,
// exactly as printed, as a module of their own that requires this
// repository, and runs them against a gateway node: the receiving program
// must print an alarm the test publishes and every alarm the publishing
// program publishes (each once), stop on SIGINT with its position, and,
// started again from an earlier position, print exactly the alarms after it.
func TestDocsGoClient(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	progs := markedGoBlocks(t, filepath.Join(root, "docs", "go-client.md"))
	if len(progs) != 2 {
		t.Fatalf("docs/go-client.md: %d marked programs, want 2 (receive, publish)", len(progs))
	}
	recvBin := buildDocsProgram(t, root, progs[0])
	pubBin := buildDocsProgram(t, root, progs[1])

	h := newHarness(t, options{nodes: 1})
	wsURL, httpURL := h.endpoints()[0], "http://"+h.addrs[0]
	token := h.token("42", nil)

	recv := startDocsProgram(t, recvBin, []string{"GATEWAY_TOKEN=" + token}, "-url", wsURL)
	recv.stderr.waitFor(t, "connected to gw-1: new")

	res, err := h.publisher(0).Publish(h.ctx, "user:42", "docs.test", map[string]int{"n": 1}, "")
	if err != nil {
		t.Fatal(err)
	}
	recv.stdout.waitFor(t, res.ID+" user:42 docs.test {\"n\":1}")

	last := runDocsPublisher(t, pubBin, httpURL, res.ID, recv)

	m := recv.stop(t, `stopped; resume with -last-id (\S+) -epoch (\S+)`)
	if m[1] != last || m[2] != res.Epoch {
		t.Fatalf("position after stop = %s %s, want the last alarm %s %s\n%s", m[1], m[2], last, res.Epoch, recv.stderr.String())
	}
	if got := recv.stdout.lines(); len(got) != 5 {
		t.Fatalf("receive program printed %d alarm lines, want 5, each once:\n%s", len(got), recv.stdout.String())
	}

	// Resume from the test's alarm: exactly the four after it, replayed.
	resumed := startDocsProgram(t, recvBin, []string{"GATEWAY_TOKEN=" + token}, "-url", wsURL, "-last-id", res.ID, "-epoch", res.Epoch)
	resumed.stderr.waitFor(t, "connected to gw-1: resumed")
	resumed.stdout.waitFor(t, last+" broadcast maintenance")
	resumed.stop(t, "stopped; resume with -last-id "+regexp.QuoteMeta(last))
	if got, want := resumed.stdout.lines(), recv.stdout.lines()[1:]; !slices.Equal(got, want) {
		t.Fatalf("resumed program printed:\n%s\nwant the alarms after %s:\n%s", strings.Join(got, "\n"), res.ID, strings.Join(want, "\n"))
	}
}

// runDocsPublisher runs the publishing program twice against httpURL and
// checks what it prints (its history includes the alarm testID) and that
// recv printed each new alarm: the first run publishes three, the second
// replays the two keyed ones and publishes a new broadcast, whose id it
// returns.
func runDocsPublisher(t *testing.T, pubBin, httpURL, testID string, recv *docsProc) string {
	t.Helper()
	env := []string{"GATEWAY_API_KEY=" + testAPIKey}
	line := regexp.MustCompile(`(?m)^published (\S+) epoch \S+ replayed (true|false)$`)
	out := runDocsProgram(t, pubBin, env, "-url", httpURL)
	first := line.FindAllStringSubmatch(out, -1)
	if len(first) != 3 || first[0][2]+first[1][2]+first[2][2] != "falsefalsefalse" ||
		!strings.Contains(out, "history "+testID+" docs.test {\"n\":1}") {
		t.Fatalf("publish program printed:\n%s\nwant 3 new alarms and the test's alarm in the history", out)
	}
	for i, want := range []string{"user:42 order.shipped {\"order\":7}", "user:42 invoice.paid {\"invoice\":12}", "broadcast maintenance \"at 22:00\""} {
		recv.stdout.waitFor(t, first[i][1]+" "+want)
	}

	again := runDocsProgram(t, pubBin, env, "-url", httpURL)
	second := line.FindAllStringSubmatch(again, -1)
	if len(second) != 3 || second[0][1] != first[0][1] || second[0][2] != "true" ||
		second[1][1] != first[1][1] || second[1][2] != "true" || second[2][2] != "false" {
		t.Fatalf("second run of the publish program printed:\n%s\nwant the 2 keyed alarms replayed, then a new broadcast", again)
	}
	recv.stdout.waitFor(t, second[2][1]+" broadcast maintenance")
	return second[2][1]
}

// markedGoBlocks returns the body of every ```go block that follows a line
// starting with goDocsMarker in the markdown file at path, in order.
func markedGoBlocks(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(b), "\n")
	var blocks []string
	for i, l := range lines {
		if !strings.HasPrefix(l, goDocsMarker) {
			continue
		}
		if i+1 >= len(lines) || lines[i+1] != "```go" {
			t.Fatalf("%s:%d: the marker must be followed by a ```go fence", path, i+1)
		}
		end := i + 2
		for end < len(lines) && lines[end] != "```" {
			end++
		}
		if end == len(lines) {
			t.Fatalf("%s:%d: the fenced block is not closed", path, i+2)
		}
		blocks = append(blocks, strings.Join(lines[i+2:end], "\n")+"\n")
	}
	return blocks
}

// buildDocsProgram writes src as main.go of a new module in a temporary
// directory that requires this repository's modules (the root's, and the
// client's and protocol's, which are modules of their own) through replace
// directives, and builds it.
func buildDocsProgram(t *testing.T, root, src string) string {
	t.Helper()
	dir := t.TempDir()
	goMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(goMod)
	if goVersion == nil {
		t.Fatal("go.mod has no go directive")
	}
	mod := fmt.Sprintf("module docsexample\n\ngo %s\n", goVersion[1])
	var sums []byte
	for _, d := range []string{root, filepath.Join(root, "client"), filepath.Join(root, "protocol")} {
		m, err := os.ReadFile(filepath.Join(d, "go.mod"))
		if os.IsNotExist(err) && d != root {
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		path := regexp.MustCompile(`(?m)^module (\S+)$`).FindSubmatch(m)
		if path == nil {
			t.Fatalf("%s/go.mod has no module directive", d)
		}
		mod += fmt.Sprintf("\nrequire %s v0.0.0\n\nreplace %s => %s\n", path[1], path[1], d)
		if s, err := os.ReadFile(filepath.Join(d, "go.sum")); err == nil {
			sums = append(sums, s...)
		}
	}
	for name, body := range map[string][]byte{"go.mod": []byte(mod), "go.sum": sums, "main.go": []byte(src)} {
		if err := os.WriteFile(filepath.Join(dir, name), body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	bin := filepath.Join(dir, "prog")
	for _, args := range [][]string{{"mod", "tidy"}, {"vet", "."}, {"build", "-o", bin, "."}} {
		ctx, cancel := context.WithTimeout(context.Background(), docsWait)
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("go %s of the documented program: %v\n%s\nprogram:\n%s", strings.Join(args, " "), err, out, src)
		}
	}
	return bin
}

// runDocsProgram runs bin to its end and returns its stdout.
func runDocsProgram(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), docsWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\nstdout:\n%s\nstderr:\n%s", filepath.Base(bin), args, err, out, stderr.String())
	}
	return string(out)
}

// docsProc is a running documented program with its output.
type docsProc struct {
	cmd            *exec.Cmd
	stdout, stderr *lineLog
	done           chan error // receives Wait's result
}

// startDocsProgram starts bin; t.Cleanup kills it if it still runs.
func startDocsProgram(t *testing.T, bin string, env []string, args ...string) *docsProc {
	t.Helper()
	p := &docsProc{cmd: exec.Command(bin, args...), stdout: &lineLog{}, stderr: &lineLog{}, done: make(chan error, 1)}
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGINT, requires a clean exit and returns the submatches of
// pattern in the program's stderr.
func (p *docsProc) stop(t *testing.T, pattern string) []string {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		if err != nil {
			t.Fatalf("after SIGINT: %v\nstderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(docsWait):
		t.Fatalf("no exit within %v of SIGINT\nstderr:\n%s", docsWait, p.stderr.String())
	}
	m := regexp.MustCompile(pattern).FindStringSubmatch(p.stderr.String())
	if m == nil {
		t.Fatalf("stderr has no line matching %q:\n%s", pattern, p.stderr.String())
	}
	return m
}

// lineLog collects a program's output; safe for concurrent use.
type lineLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *lineLog) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *lineLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// lines returns the complete lines written so far.
func (l *lineLog) lines() []string {
	s := l.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}

// waitFor waits until a complete line contains s.
func (l *lineLog) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.Now().Add(docsWait)
	for time.Now().Before(deadline) {
		for _, line := range l.lines() {
			if strings.Contains(line, s) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no line containing %q within %v:\n%s", s, docsWait, l.String())
}

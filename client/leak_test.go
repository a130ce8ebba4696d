package client

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// The client module's tests find leaked goroutines themselves, so that the
// module requires nothing but what the client uses (see module_test.go).

// leakWait bounds how long a leak check waits for goroutines to end.
const leakWait = 2 * time.Second

func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		if leaked := waitLeaks(nil); len(leaked) > 0 {
			fmt.Fprintf(os.Stderr, "leaked goroutines after a successful run:\n\n%s\n", strings.Join(leaked, "\n\n"))
			code = 1
		}
	}
	os.Exit(code)
}

// verifyNoLeaks fails t if goroutines other than those in before (from
// goroutines, when the test began) are still running after leakWait.
func verifyNoLeaks(t *testing.T, before map[string]string) {
	t.Helper()
	if leaked := waitLeaks(before); len(leaked) > 0 {
		t.Errorf("leaked goroutines:\n\n%s", strings.Join(leaked, "\n\n"))
	}
}

// waitLeaks polls until no goroutine but those in ignore runs, or leakWait
// passed, and returns the stacks of the ones left.
func waitLeaks(ignore map[string]string) []string {
	deadline := time.Now().Add(leakWait)
	for sleep := time.Millisecond; ; sleep = min(2*sleep, 100*time.Millisecond) {
		var leaked []string
		for id, stack := range goroutines() {
			if _, ok := ignore[id]; !ok {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			return leaked
		}
		time.Sleep(sleep)
	}
}

// goroutines returns the stacks of the running goroutines by id, without
// the calling one and those of the testing package and the runtime's
// signal handling, which every test binary has.
func goroutines() map[string]string {
	buf := make([]byte, 64<<10)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	all := strings.Split(strings.TrimSpace(string(buf)), "\n\n")
	out := make(map[string]string, len(all))
	for _, stack := range all[1:] { // all[0] is the calling goroutine
		header, frames, _ := strings.Cut(stack, "\n")
		id, state, _ := strings.Cut(strings.TrimPrefix(header, "goroutine "), " ")
		if !ownGoroutine(state, frames) {
			out[id] = stack
		}
	}
	return out
}

// ownGoroutine reports whether a goroutine in state ("[chan receive]:")
// with frames belongs to the test binary rather than to the code under test.
func ownGoroutine(state, frames string) bool {
	top, _, _ := strings.Cut(frames, "\n")
	if i := strings.LastIndexByte(top, '('); i > 0 {
		top = top[:i]
	}
	switch top {
	case "testing.RunTests", "testing.(*T).Run", "testing.(*T).Parallel", "testing.runFuzzing", "testing.runFuzzTests":
		return strings.HasPrefix(state, "[chan receive")
	case "os/signal.signal_recv", "os/signal.loop":
		return true
	}
	return strings.Contains(frames, "runtime.ensureSigM") || strings.Contains(frames, "runtime/trace.Start")
}

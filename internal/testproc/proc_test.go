package testproc_test

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// An external test: testutil, which it uses, imports testproc.

func TestProcRestartAndTerminate(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	log := filepath.Join(t.TempDir(), "p.log")
	p := &testproc.Proc{Name: "sleeper", Argv: []string{sh, "-c", "echo hello; echo noisy; trap 'exit 3' TERM; while :; do sleep 0.01; done"},
		LogPath: log, Noise: []string{"noisy"}}
	t.Cleanup(p.Kill)
	if p.Running() {
		t.Fatal("running before Start")
	}
	for round := range 2 {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		if err := p.Start(); err == nil {
			t.Fatal("second Start of a running process succeeded")
		}
		testutil.WaitFor(t, 5*time.Second, "the hello line", func() bool { return strings.Count(p.LogTail(10), "hello") == round+1 })
		if round == 0 {
			p.Kill()
			if p.Running() {
				t.Fatal("running after Kill")
			}
			continue
		}
		code, _, err := p.Terminate(5 * time.Second)
		if err != nil || code != 3 {
			t.Fatalf("Terminate = %d, %v; want 3, nil", code, err)
		}
	}
	tail := p.LogTail(10)
	if strings.Contains(tail, "noisy") || !strings.Contains(tail, "(2 noise lines left out") {
		t.Fatalf("LogTail:\n%s", tail)
	}
}

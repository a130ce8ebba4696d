package testproc

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRedisAddr(t *testing.T) {
	tests := []struct{ env, want string }{
		{"", DefaultRedisAddr},
		{"10.0.0.7:6380", "10.0.0.7:6380"},
	}
	for _, tt := range tests {
		t.Setenv(RedisAddrEnv, tt.env)
		if got := RedisAddr(); got != tt.want {
			t.Errorf("%s=%q: RedisAddr() = %q, want %q", RedisAddrEnv, tt.env, got, tt.want)
		}
	}
}

func TestTailLines(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		noise    []string
		want     string
		skipped  int
	}{
		{"last lines", "a\nb\nc\n", 2, nil, "b\nc", 0},
		{"fewer than n", "a\n", 5, nil, "a", 0},
		{"noise left out", "a\nx dial\nb\nx dial\n", 5, []string{"dial"}, "a\nb", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, skipped := tailLines([]byte(tt.in), tt.n, tt.noise)
			if got != tt.want || skipped != tt.skipped {
				t.Fatalf("tailLines = %q, %d; want %q, %d", got, skipped, tt.want, tt.skipped)
			}
		})
	}
}

func TestProcRestartAndTerminate(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	log := filepath.Join(t.TempDir(), "p.log")
	p := &Proc{Name: "sleeper", Argv: []string{sh, "-c", "echo hello; echo noisy; trap 'exit 3' TERM; while :; do sleep 0.01; done"},
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
		waitFor(t, func() bool { return strings.Count(p.LogTail(10), "hello") == round+1 })
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

func TestRedisStartAndPing(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not in PATH")
	}
	r, err := NewRedis(RedisOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitPing(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	r.Kill()
	if err := Ping(context.Background(), r.Addr); err == nil {
		t.Fatal("PING answered after Kill")
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 5s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestTopologies starts a Sentinel set and a Cluster and checks they
// answer as their URLs promise.
func TestTopologies(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 11 redis processes")
	}
	ctx := context.Background()
	t.Run("sentinel", func(t *testing.T) {
		s, err := StartSentinel(ctx, t.TempDir())
		t.Cleanup(s.Stop)
		if err != nil {
			t.Fatal(err)
		}
		m, err := s.MasterAddr(ctx)
		if err != nil || m != s.Redis[0].Addr {
			t.Fatalf("MasterAddr = %q %v, want %s", m, err, s.Redis[0].Addr)
		}
		if !strings.Contains(s.URL(), "master_name="+SentinelMaster) {
			t.Fatalf("URL %s", s.URL())
		}
	})
	t.Run("cluster", func(t *testing.T) {
		c, err := StartCluster(ctx, t.TempDir())
		t.Cleanup(c.Stop)
		if err != nil {
			t.Fatal(err)
		}
		m, r, err := c.SlotOwner(ctx, "{alarms}:stream")
		if err != nil || c.Node(m) == nil || c.Node(r) == nil || m == r {
			t.Fatalf("SlotOwner = %q %q %v", m, r, err)
		}
		if v, err := DoString(ctx, m, "SET", "{alarms}:x", "1"); err != nil || v != "OK" {
			t.Fatalf("SET on the slot's master: %q %v", v, err)
		}
	})
}

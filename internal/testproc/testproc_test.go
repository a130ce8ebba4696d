package testproc

import (
	"context"
	"os/exec"
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

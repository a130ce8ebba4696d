package main

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
)

// privateRedis starts a redis-server of this test's own, with args; it
// skips the test when redis-server is not installed.
func privateRedis(t *testing.T, args ...string) *stream.Store {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not in PATH")
	}
	r, err := testproc.NewRedis(testproc.RedisOptions{Dir: t.TempDir(), Args: args})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	if err := r.WaitPing(context.Background(), 10*time.Second); err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := stream.New(stream.Config{}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCheckRedis: the start checks against a real server: an evicting
// policy is a loud warning, a replica and too few replicas are problems.
func TestCheckRedis(t *testing.T) {
	tests := []struct {
		name        string
		args        []string
		minReplicas int
		problem     string // prefix of the one problem; "" = none
		loud        bool   // an evicting-policy warning
	}{
		{"fine", nil, 0, "", false},
		{"evicting", []string{"--maxmemory-policy", "allkeys-lru"}, 0, "", true},
		{"too few replicas", nil, 2, "GATEWAY_MIN_REPLICAS: 2 required, but the primary has 0 replicas connected", false},
		{"a replica", []string{"--replicaof", "127.0.0.1 9"}, 0, "GATEWAY_REDIS_URL: the server is a replica (role:slave)", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := checkRedis(t.Context(), privateRedis(t, tt.args...), tt.minReplicas)
			if r.unreachable != nil {
				t.Fatal(r.unreachable)
			}
			got := problemLines(&configError{problems: r.problems})
			if tt.problem == "" && len(got) > 0 || tt.problem != "" && (len(got) != 1 || !strings.HasPrefix(got[0], tt.problem)) {
				t.Fatalf("problems %q, want %q", got, tt.problem)
			}
			loud := len(r.warnings) == 1 && r.warnings[0].loud && strings.HasPrefix(r.warnings[0].msg, "REDIS MAY EVICT KEYS")
			if loud != tt.loud || (!tt.loud && len(r.warnings) > 0) {
				t.Fatalf("warnings %+v, want loud=%v", r.warnings, tt.loud)
			}
		})
	}
}

package testutil

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// Prefix returns a key prefix unique to this run of t: "t-", t's name
// (characters a stream prefix may not hold replaced by '_', cut to its
// last 40) and random hex; at most 64 characters, so it is a valid
// stream.Config.Prefix. At cleanup the keys {prefix}:* and those of its
// partitions, {prefix/*, are deleted from the shared test Redis
// (testproc.RedisAddr); a failure is logged.
func Prefix(t testing.TB) string {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune("_.:-", r):
			return r
		}
		return '_'
	}, t.Name())
	if len(name) > 40 {
		name = name[len(name)-40:]
	}
	prefix := "t-" + name + "-" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if err := deleteKeys(testproc.RedisAddr(), "{"+prefix+"}:*", "{"+prefix+"/*"); err != nil {
			t.Logf("cleanup of %s: %v", prefix, err)
		}
	})
	return prefix
}

// deleteKeys deletes the keys matching any of patterns from the Redis at
// addr.
func deleteKeys(addr string, patterns ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, pattern := range patterns {
		v, err := testproc.Do(ctx, addr, "KEYS", pattern)
		if err != nil {
			return err
		}
		keys, _ := v.([]any)
		for _, k := range keys {
			if s, ok := k.(string); ok {
				if _, err := testproc.Do(ctx, addr, "DEL", s); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// ClusterRedis runs a one-node Redis Cluster (all slots on one
// redis-server, found in PATH) on a free loopback port in a temporary
// directory and returns its address. The process is killed at cleanup.
func ClusterRedis(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Fatalf("redis-server is required for a cluster test: %v", err)
	}
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	dir := t.TempDir()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--dir", dir,
		"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(dir, "nodes.conf"),
		"--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ctx := context.Background()
	WaitFor(t, 5*time.Second, "the cluster node to answer", func() bool { return testproc.Ping(ctx, addr) == nil })
	if _, err := testproc.Do(ctx, addr, "CLUSTER", "ADDSLOTSRANGE", "0", "16383"); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, 5*time.Second, "cluster_state:ok", func() bool { return ClusterOK(addr) })
	return addr
}

// ClusterOK reports whether the cluster node at addr reports
// cluster_state:ok.
func ClusterOK(addr string) bool {
	info, err := testproc.DoString(context.Background(), addr, "CLUSTER", "INFO")
	return err == nil && strings.Contains(info, "cluster_state:ok")
}

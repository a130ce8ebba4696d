package browsertest

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

const (
	testSecret = "browsertest-secret-0123456789"
	testAPIKey = "browsertest-key-0123456789"
	waitLimit  = 20 * time.Second // bound of every wait in this package
)

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := testproc.ModuleRoot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// buildGateway builds ./cmd/gateway into a temp dir and returns the binary.
func buildGateway(t *testing.T, root string) string {
	t.Helper()
	bin, err := testproc.BuildGateway(context.Background(), root, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// startRedis runs a private redis-server (no persistence) and returns its URL.
func startRedis(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatalf("redis-server not found (apt-get install -y redis-server): %v", err)
	}
	r, err := testproc.NewRedis(testproc.RedisOptions{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Kill)
	if err := r.Start(); err != nil {
		t.Fatal(err)
	}
	if err := r.WaitPing(context.Background(), waitLimit); err != nil {
		t.Fatal(err)
	}
	return r.URL()
}

// startNode runs the gateway binary as node id on addr ("": a free port)
// and waits for /readyz. extra environment entries win over the defaults.
func startNode(t *testing.T, bin, redisURL, id, addr string, extra ...string) *testproc.Gateway {
	t.Helper()
	n, err := testproc.NewGateway(bin, id, addr, append([]string{
		"GATEWAY_REDIS_URL=" + redisURL,
		"GATEWAY_JWT_SECRET=" + testSecret,
		"GATEWAY_API_KEYS=" + testAPIKey,
		"GATEWAY_DEMO=true",
		// The page on node A's origin also connects to node B (another port).
		"GATEWAY_ALLOWED_ORIGINS=127.0.0.1:*",
		"GATEWAY_LOG_LEVEL=debug",
	}, extra...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Kill)
	if err := n.Start(); err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(context.Background(), nil, waitLimit); err != nil {
		t.Fatal(err)
	}
	return n
}

package e2e

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testproc"
)

const (
	testSecret = "e2e-secret-0123456789abcdef"
	testAPIKey = "e2e-api-key-0123456789"
	drainDelay = time.Second
	spread     = 200 * time.Millisecond
)

// scale is E2E_SCALE (default 1): it multiplies the duration and traffic
// of every scenario.
func scale(t *testing.T) float64 {
	t.Helper()
	s := os.Getenv("E2E_SCALE")
	if s == "" {
		return 1
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		t.Fatalf("E2E_SCALE=%q: want a positive number", s)
	}
	return f
}

// scaled multiplies d by E2E_SCALE, keeping at least floor.
func scaled(t *testing.T, d, floor time.Duration) time.Duration {
	t.Helper()
	return max(time.Duration(float64(d)*scale(t)), floor)
}

// scaledN multiplies n by E2E_SCALE, keeping at least floor.
func scaledN(t *testing.T, n, floor int) int {
	t.Helper()
	return max(int(math.Round(float64(n)*scale(t))), floor)
}

// options configure a harness.
type options struct {
	nodes int
	aof   bool // Redis with appendfsync always
	// topology, when set, replaces the single Redis with "sentinel" or
	// "cluster" (topology_test.go); h.redis and h.rdb stay nil.
	topology string
	env      map[string]string // extra GATEWAY_* variables for every node
}

// harness is one test's Redis and gateway nodes.
type harness struct {
	t        *testing.T
	ctx      context.Context // ends at cleanup
	dir      string
	redis    *testproc.Redis
	redisURL string
	topo     topology      // the Sentinel set or Cluster, when options.topology is set
	rdb      *redis.Client // the test's own admin connection
	nodes    []*testproc.Gateway
	addrs    []string // host:port of each node
	verifier *auth.Verifier
	httpc    *http.Client // for publishes, probes and WebSocket dials
	parts    int          // GATEWAY_PARTITIONS of the nodes (partition_test.go)
	prefix   string       // GATEWAY_REDIS_PREFIX of the nodes
}

// newHarness starts Redis and opts.nodes gateway nodes and waits until
// every node is ready. Everything stops at cleanup; when the test failed
// the tail of every log is printed first.
func newHarness(t *testing.T, opts options) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 2 * time.Second}).DialContext,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     30 * time.Second,
	}
	h := &harness{t: t, ctx: ctx, dir: logDir(t), httpc: &http.Client{Transport: tr},
		parts: partitionsOf(t, opts.env), prefix: cmp.Or(opts.env["GATEWAY_REDIS_PREFIX"], stream.DefaultPrefix)}
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	h.verifier = v
	t.Cleanup(func() {
		if t.Failed() {
			h.dumpLogs()
		}
		for _, n := range h.nodes {
			n.Kill()
		}
		if h.rdb != nil {
			_ = h.rdb.Close()
		}
		if h.redis != nil {
			h.redis.Kill()
		}
		if h.topo != nil {
			h.topo.Stop()
		}
		cancel()
		tr.CloseIdleConnections()
	})
	if opts.topology != "" {
		h.startTopology(opts.topology)
	} else {
		h.startRedis(opts.aof)
	}
	for i := range opts.nodes {
		h.addNode(i, opts.env)
	}
	for i := range h.nodes {
		if err := h.waitReady(i, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// logDir is where logs go: E2E_LOG_DIR/<test> when set (kept), else a
// temporary directory.
func logDir(t *testing.T) string {
	if d := os.Getenv("E2E_LOG_DIR"); d != "" {
		dir := filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(dir, 0o755); err == nil {
			return dir
		}
	}
	return t.TempDir()
}

func (h *harness) startRedis(aof bool) {
	h.t.Helper()
	rdir := filepath.Join(h.dir, "redis-data")
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		h.t.Fatal(err)
	}
	r, err := testproc.NewRedis(testproc.RedisOptions{Dir: rdir, AOF: aof})
	if err != nil {
		h.t.Fatal(err)
	}
	r.LogPath = filepath.Join(h.dir, "redis.log")
	h.redis, h.redisURL = r, r.URL()
	h.rdb = redis.NewClient(&redis.Options{Addr: r.Addr, MaxRetries: -1, PoolSize: 2})
	if err := h.restartRedis(); err != nil {
		h.t.Fatal(err)
	}
}

// restartRedis starts Redis (again) and waits until it answers PING.
func (h *harness) restartRedis() error {
	if err := h.redis.Start(); err != nil {
		return err
	}
	return h.redis.WaitPing(h.ctx, 10*time.Second)
}

func (h *harness) addNode(i int, extra map[string]string) {
	h.t.Helper()
	name := fmt.Sprintf("gw-%d", i+1)
	vars := map[string]string{
		"GATEWAY_REDIS_URL":    h.redisURL,
		"GATEWAY_JWT_SECRET":   testSecret,
		"GATEWAY_API_KEYS":     testAPIKey,
		"GATEWAY_DRAIN_DELAY":  drainDelay.String(),
		"GATEWAY_CLOSE_SPREAD": spread.String(),
		"GATEWAY_LOG_FORMAT":   "json",
		"GATEWAY_DEMO":         "false",
		"GATEWAY_CONNECT_RATE": "-1", // every client comes from 127.0.0.1 and reconnects at once after a kill
	}
	if h.topo != nil {
		vars["GATEWAY_REDIS_MODE"] = h.topo.Mode()
	}
	for k, v := range extra {
		vars[k] = v
	}
	var env []string
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	n, err := testproc.NewGateway(gatewayBin, name, "", env)
	if err != nil {
		h.t.Fatal(err)
	}
	n.LogPath, n.Noise = filepath.Join(h.dir, name+".log"), logNoise
	if err := n.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.nodes = append(h.nodes, n)
	h.addrs = append(h.addrs, n.Addr)
}

// logNoise marks log lines that repeat for every failed request or dial
// while Redis or a node is down; log tails leave them out.
var logNoise = []string{`"msg":"api: request failed"`, "connection pool: failed to dial"}

// waitReady polls node i's /readyz until 200.
func (h *harness) waitReady(i int, limit time.Duration) error {
	return h.nodes[i].WaitReady(h.ctx, h.httpc, limit)
}

// restartNode starts node i again (same port and settings) and waits
// until it is ready.
func (h *harness) restartNode(i int) error {
	if err := h.nodes[i].Start(); err != nil {
		return err
	}
	return h.waitReady(i, 20*time.Second)
}

// allReady reports an error unless every node runs and is ready.
func (h *harness) allReady() error {
	for i, n := range h.nodes {
		if !n.Running() {
			return fmt.Errorf("%s is not running", n.Name)
		}
		if err := h.waitReady(i, 20*time.Second); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) endpoints() []string {
	eps := make([]string, len(h.addrs))
	for i, a := range h.addrs {
		eps[i] = "ws://" + a + "/v1/ws"
	}
	return eps
}

func (h *harness) publisher(i int) *client.Publisher {
	return &client.Publisher{BaseURL: "http://" + h.addrs[i], APIKey: testAPIKey, HTTPClient: h.httpc}
}

// token mints a client token for sub with extra channels.
func (h *harness) token(sub string, channels []string) string {
	h.t.Helper()
	tok, err := h.verifier.Issue(sub, channels, time.Hour)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

func (h *harness) dumpLogs() {
	procs := []*testproc.Proc{}
	if h.redis != nil {
		procs = append(procs, h.redis.Proc)
	}
	if h.topo != nil {
		procs = append(procs, h.topo.Procs()...)
	}
	for _, n := range h.nodes {
		procs = append(procs, n.Proc)
	}
	for _, p := range procs {
		h.t.Logf("---- last lines of %s (%s; kept when E2E_LOG_DIR is set) ----\n%s", p.Name, p.LogPath, p.LogTail(40))
	}
}

// killLoop SIGKILLs a random node every interval, restarts it after a
// short pause and waits until it is ready, until ctx ends. It returns the
// number of kills.
func (h *harness) killLoop(ctx context.Context, every time.Duration) (int, error) {
	kills := 0
	for {
		select {
		case <-ctx.Done():
			return kills, nil
		case <-time.After(every):
		}
		i := rand.IntN(len(h.nodes))
		h.nodes[i].Kill()
		kills++
		time.Sleep(time.Duration(100+rand.IntN(500)) * time.Millisecond)
		if err := h.restartNode(i); err != nil {
			return kills, err
		}
	}
}

// summary logs the scenario's one-line summary and appends it to the file
// named by E2E_RESULTS, if set.
func summary(t *testing.T, format string, args ...any) {
	t.Helper()
	line := "SUMMARY " + fmt.Sprintf(format, args...)
	t.Log(line)
	if path := os.Getenv("E2E_RESULTS"); path != "" {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Logf("E2E_RESULTS: %v", err)
			return
		}
		defer f.Close()
		fmt.Fprintf(f, "%s %s (E2E_SCALE=%g)\n", time.Now().Format(time.DateTime), line, scale(t))
	}
}

// metric sums the samples of the named metric over the running nodes'
// /metrics (0 for a node that cannot answer).
func (h *harness) metric(name string) float64 {
	total := 0.0
	for i, n := range h.nodes {
		if !n.Running() {
			continue
		}
		ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+h.addrs[i]+"/metrics", nil)
		resp, err := h.httpc.Do(req)
		if err != nil {
			cancel()
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		for _, line := range strings.Split(string(b), "\n") {
			rest, ok := strings.CutPrefix(line, name)
			if !ok || (rest != "" && rest[0] != ' ' && rest[0] != '{') {
				continue
			}
			fields := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
			if len(fields) > 0 {
				if v, err := strconv.ParseFloat(fields[0], 64); err == nil {
					total += v
				}
			}
		}
	}
	return total
}

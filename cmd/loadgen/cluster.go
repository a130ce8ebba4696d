package main

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// clusterConfig says what to run the workload against.
type clusterConfig struct {
	Gateway string   // gateway binary (required unless Targets)
	Targets []string // running gateways (http://host:port); set: start nothing
	Redis   string   // redis:// URL of the targets' Redis (for INFO)
	PIDs    []int    // pids of Targets, for CPU and RSS (optional)
	Nodes   int      // gateways to start
	APIKey  string
	Secret  string
	Env     []string // extra GATEWAY_* settings for started gateways
	Verbose bool     // gateway and redis logs to stderr
	Target  target   // what runs on the nodes (nil: alarmgate)
	Peer    string   // Centrifugo binary (Target centrifugo)
	// PeerHistory is the peer's history size per channel (0: no history
	// and no recovery).
	PeerHistory int
	// PprofBase, when above 0, serves pprof on gateway i at
	// 127.0.0.1:PprofBase+i (GATEWAY_PPROF_ADDR), for docs/bench/profile.sh.
	PprofBase int
}

// cluster is a Redis and gateway nodes, started by loadgen or given.
type cluster struct {
	cfg      clusterConfig
	dir      string
	redisURL string
	redisPID int
	redis    *testproc.Redis // nil when attached
	rdb      *redis.Client
	nodes    []*gwNode
	bin      string
}

// gwNode is one gateway or peer node, started by loadgen or given.
type gwNode struct {
	URL    string         // http://127.0.0.1:port
	PID    int            // 0 when unknown
	proc   *testproc.Proc // nil for a target loadgen did not start
	wsPath string         // "": /v1/ws
}

// WS returns the node's WebSocket URL.
func (n *gwNode) WS() string {
	return "ws" + strings.TrimPrefix(n.URL, "http") + cmp.Or(n.wsPath, "/v1/ws")
}

// startCluster starts (or attaches to) Redis and the gateways and waits
// until every node is ready.
func startCluster(ctx context.Context, cfg clusterConfig) (*cluster, error) {
	if cfg.Target == nil {
		cfg.Target = alarmgate{}
	}
	c := &cluster{cfg: cfg}
	if len(cfg.Targets) > 0 {
		if _, ok := cfg.Target.(alarmgate); !ok {
			return nil, errors.New("cluster: -targets only for the alarmgate target")
		}
		return c, c.attach(ctx)
	}
	dir, err := os.MkdirTemp("", "loadgen-")
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.dir = dir
	if err := c.startRedis(ctx); err != nil {
		c.Close()
		return nil, err
	}
	c.bin = cfg.Gateway
	for i := range cfg.Nodes {
		if _, err := cfg.Target.startNode(ctx, c, i); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *cluster) attach(ctx context.Context) error {
	for i, u := range c.cfg.Targets {
		n := &gwNode{URL: strings.TrimSuffix(u, "/")}
		if i < len(c.cfg.PIDs) {
			n.PID = c.cfg.PIDs[i]
		}
		if err := testproc.WaitReady(ctx, http.DefaultClient, n.URL, 10*time.Second, nil); err != nil {
			return fmt.Errorf("cluster: %s %w", n.URL, err)
		}
		c.nodes = append(c.nodes, n)
	}
	if c.cfg.Redis != "" {
		o, err := redis.ParseURL(c.cfg.Redis)
		if err != nil {
			return fmt.Errorf("cluster: -redis: %w", err)
		}
		c.redisURL, c.rdb = c.cfg.Redis, redis.NewClient(o)
	}
	return nil
}

func (c *cluster) startRedis(ctx context.Context) error {
	r, err := testproc.NewRedis(testproc.RedisOptions{Dir: c.dir, Args: []string{"--maxclients", "10000"}})
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	c.setLog(r.Proc, "redis.log")
	if err := r.Start(); err != nil {
		return fmt.Errorf("cluster: start redis-server: %w", err)
	}
	c.redis, c.redisPID = r, r.PID()
	c.redisURL = r.URL()
	c.rdb = redis.NewClient(&redis.Options{Addr: r.Addr})
	if err := r.WaitPing(ctx, 10*time.Second); err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	return nil
}

// buildGateway builds ./cmd/gateway of the module loadgen runs in into
// dir and returns the binary and the source revision: the short commit,
// with "+dirty" when the gateway's sources differ from it.
func buildGateway(ctx context.Context, dir string) (bin, rev string, err error) {
	root, err := testproc.ModuleRoot(ctx)
	if err != nil {
		return "", "", errors.New("cluster: not inside the gateway module; pass -gateway")
	}
	if bin, err = testproc.BuildGateway(ctx, root, dir); err != nil {
		return "", "", fmt.Errorf("cluster: build gateway: %w", err)
	}
	return bin, sourceRev(ctx, root), nil
}

// sourceRev describes the git revision of root, or "unknown".
func sourceRev(ctx context.Context, root string) string {
	head, err := exec.CommandContext(ctx, "git", "-C", root, "rev-parse", "--short", "HEAD").Output()
	if err != nil {
		return "unknown"
	}
	rev := strings.TrimSpace(string(head))
	dirty, err := exec.CommandContext(ctx, "git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--",
		"cmd/gateway", "internal", "web", "protocol", "client", "go.mod", "go.work").Output()
	if err != nil || len(bytes.TrimSpace(dirty)) > 0 {
		rev += "+dirty"
	}
	return rev
}

// startGateway starts gateway i (named lg-<i+1>) and waits until it is
// ready.
func (c *cluster) startGateway(ctx context.Context, i int) (*gwNode, error) {
	env := append([]string{
		"GATEWAY_REDIS_URL=" + c.redisURL,
		"GATEWAY_JWT_SECRET=" + c.cfg.Secret,
		"GATEWAY_API_KEYS=" + c.cfg.APIKey,
		"GATEWAY_LOG_LEVEL=warn",
		"GATEWAY_DRAIN_DELAY=1ms",
		"GATEWAY_CLOSE_SPREAD=1ms",
		"GATEWAY_CONNECT_RATE=-1", // every simulated client comes from one address
		"GATEWAY_PUBLISH_RATE=-1", // measure the gateway, not its limit
	}, c.cfg.Env...)
	if c.cfg.PprofBase > 0 {
		env = append(env, "GATEWAY_PPROF_ADDR=127.0.0.1:"+strconv.Itoa(c.cfg.PprofBase+i))
	}
	g, err := testproc.NewGateway(c.bin, "lg-"+strconv.Itoa(i+1), "", env)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	c.setLog(g.Proc, fmt.Sprintf("gateway-%d.log", i+1))
	if err := g.Start(); err != nil {
		return nil, fmt.Errorf("cluster: start gateway: %w", err)
	}
	n := &gwNode{URL: g.URL(), PID: g.PID(), proc: g.Proc}
	c.setNode(i, n)
	if err := g.WaitReady(ctx, http.DefaultClient, 30*time.Second); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	return n, nil
}

// setNode records n as node i.
func (c *cluster) setNode(i int, n *gwNode) {
	if i < len(c.nodes) {
		c.nodes[i] = n
	} else {
		c.nodes = append(c.nodes, n)
	}
}

// setLog sends p's output to name in the cluster's directory, or to
// stderr when verbose, and has p killed if loadgen dies.
func (c *cluster) setLog(p *testproc.Proc, name string) {
	p.DieWithParent = true
	if c.cfg.Verbose {
		p.Output = os.Stderr
		return
	}
	p.LogPath = filepath.Join(c.dir, name)
}

// kill sends SIGKILL to node i and waits for it to exit.
func (c *cluster) kill(i int) error {
	n := c.nodes[i]
	if n.proc == nil {
		if n.PID == 0 {
			return errors.New("cluster: cannot kill a target without -pids")
		}
		return syscall.Kill(n.PID, syscall.SIGKILL)
	}
	n.proc.Kill()
	return nil
}

// Close stops everything loadgen started and removes its directory.
func (c *cluster) Close() {
	for _, n := range c.nodes {
		if n != nil && n.proc != nil {
			n.proc.Kill()
		}
	}
	if c.rdb != nil {
		_ = c.rdb.Close()
	}
	if c.redis != nil {
		c.redis.Kill()
	}
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}

// pids returns the gateway pids (0 when unknown).
func (c *cluster) pids() []int {
	out := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.PID
	}
	return out
}

// commandStats takes an INFO commandstats snapshot of the cluster's Redis.
func (c *cluster) commandStats(ctx context.Context) (map[string]cmdStat, error) {
	if c.rdb == nil {
		return nil, errors.New("cluster: no Redis to ask (pass -redis)")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	s, err := c.rdb.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("cluster: info commandstats: %w", err)
	}
	return parseCommandStats(s), nil
}

// metric reads one metric (summed over labels) from node i's /metrics.
func (c *cluster) metric(ctx context.Context, i int, name string) (float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.nodes[i].URL+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cluster: metrics: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, fmt.Errorf("cluster: metrics: %w", err)
	}
	v, ok := promValue(string(b), name)
	if !ok {
		return 0, fmt.Errorf("cluster: metric %s not found", name)
	}
	return v, nil
}

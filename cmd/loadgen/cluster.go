package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
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
}

// cluster is a Redis and gateway nodes, started by loadgen or given.
type cluster struct {
	cfg      clusterConfig
	dir      string
	redisURL string
	redisPID int
	redisCmd *exec.Cmd
	rdb      *redis.Client
	nodes    []*gwNode
	bin      string
}

// gwNode is one gateway process.
type gwNode struct {
	URL  string // http://127.0.0.1:port
	PID  int    // 0 when unknown
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// WS returns the node's WebSocket URL.
func (n *gwNode) WS() string {
	return "ws" + strings.TrimPrefix(n.URL, "http") + "/v1/ws"
}

// startCluster starts (or attaches to) Redis and the gateways and waits
// until every node is ready.
func startCluster(ctx context.Context, cfg clusterConfig) (*cluster, error) {
	c := &cluster{cfg: cfg}
	if len(cfg.Targets) > 0 {
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
		if _, err := c.startNode(ctx, i); err != nil {
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
		if err := waitReady(ctx, n.URL, 10*time.Second); err != nil {
			return err
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
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", c.dir, "--maxclients", "10000")
	cmd.Stdout, cmd.Stderr = c.logFile("redis.log"), c.logFile("redis.log")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("cluster: start redis-server: %w", err)
	}
	c.redisCmd, c.redisPID = cmd, cmd.Process.Pid
	c.redisURL = fmt.Sprintf("redis://127.0.0.1:%d/0", port)
	c.rdb = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	deadline := time.Now().Add(10 * time.Second)
	for {
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		err := c.rdb.Ping(pctx).Err()
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cluster: redis-server not answering: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// buildGateway builds ./cmd/gateway of the module loadgen runs in into
// dir and returns the binary and the source revision: the short commit,
// with "+dirty" when the gateway's sources differ from it.
func buildGateway(ctx context.Context, dir string) (bin, rev string, err error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	mod := strings.TrimSpace(string(out))
	if err != nil || mod == "" || mod == os.DevNull {
		return "", "", errors.New("cluster: not inside the gateway module; pass -gateway")
	}
	root := filepath.Dir(mod)
	bin = filepath.Join(dir, "gateway")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gateway")
	build.Dir = root
	if b, err := build.CombinedOutput(); err != nil {
		return "", "", fmt.Errorf("cluster: build gateway: %w\n%s", err, b)
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
		"cmd/gateway", "internal", "web", "go.mod").Output()
	if err != nil || len(bytes.TrimSpace(dirty)) > 0 {
		rev += "+dirty"
	}
	return rev
}

// startNode starts gateway i (named lg-<i+1>) and waits until it is ready.
func (c *cluster) startNode(ctx context.Context, i int) (*gwNode, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(c.bin)
	cmd.Env = append(gatewayEnv(os.Environ()),
		"GATEWAY_ADDR=127.0.0.1:"+strconv.Itoa(port),
		"GATEWAY_REDIS_URL="+c.redisURL,
		"GATEWAY_JWT_SECRET="+c.cfg.Secret,
		"GATEWAY_API_KEYS="+c.cfg.APIKey,
		"GATEWAY_NODE_ID=lg-"+strconv.Itoa(i+1),
		"GATEWAY_LOG_LEVEL=warn",
		"GATEWAY_DRAIN_DELAY=1ms",
		"GATEWAY_CLOSE_SPREAD=1ms",
	)
	cmd.Env = append(cmd.Env, c.cfg.Env...)
	log := c.logFile(fmt.Sprintf("gateway-%d.log", i+1))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("cluster: start gateway: %w", err)
	}
	n := &gwNode{URL: fmt.Sprintf("http://127.0.0.1:%d", port), PID: cmd.Process.Pid, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(n.done) }()
	if i < len(c.nodes) {
		c.nodes[i] = n
	} else {
		c.nodes = append(c.nodes, n)
	}
	if err := waitReady(ctx, n.URL, 30*time.Second); err != nil {
		return nil, fmt.Errorf("%w (log: %s)", err, filepath.Join(c.dir, fmt.Sprintf("gateway-%d.log", i+1)))
	}
	return n, nil
}

// gatewayEnv drops inherited GATEWAY_* variables so the run is defined by
// loadgen's settings alone.
func gatewayEnv(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			out = append(out, kv)
		}
	}
	return out
}

func (c *cluster) logFile(name string) io.Writer {
	if c.cfg.Verbose {
		return os.Stderr
	}
	f, err := os.OpenFile(filepath.Join(c.dir, name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return io.Discard
	}
	return f // closed when the process exits
}

// kill sends SIGKILL to node i and waits for it to exit.
func (c *cluster) kill(i int) error {
	n := c.nodes[i]
	if n.cmd == nil {
		if n.PID == 0 {
			return errors.New("cluster: cannot kill a target without -pids")
		}
		return syscall.Kill(n.PID, syscall.SIGKILL)
	}
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("cluster: kill: %w", err)
	}
	<-n.done
	return nil
}

// Close stops everything loadgen started and removes its directory.
func (c *cluster) Close() {
	for _, n := range c.nodes {
		if n != nil && n.cmd != nil {
			_ = n.cmd.Process.Signal(syscall.SIGKILL)
			<-n.done
		}
	}
	if c.rdb != nil {
		_ = c.rdb.Close()
	}
	if c.redisCmd != nil {
		_ = c.redisCmd.Process.Signal(syscall.SIGKILL)
		_ = c.redisCmd.Wait()
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

// waitReady polls url/readyz until it answers 200.
func waitReady(ctx context.Context, url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		rctx, cancel := context.WithTimeout(ctx, time.Second)
		req, _ := http.NewRequestWithContext(rctx, http.MethodGet, url+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		cancel()
		if err == nil && resp.StatusCode == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("cluster: %s not ready after %v", url, limit)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// freePort returns a TCP port that was free a moment ago.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("cluster: free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

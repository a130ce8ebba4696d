package testproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// SentinelMaster is the master name the sentinels of StartSentinel monitor.
const SentinelMaster = "alarmgate"

// Sentinel is a replicated Redis watched by three sentinels, all on
// 127.0.0.1: Redis[0] starts as the master, Redis[1] as its replica. The
// sentinels declare the master down after 1 s without an answer and fail
// over to the replica.
type Sentinel struct {
	Redis     []*Redis
	Sentinels []*Proc
	Addrs     []string // the sentinels' host:port
}

// StartSentinel starts the master, its replica and three sentinels with
// their data, configs and logs under dir, and waits (up to 20 s) until the
// replica is in sync and the sentinels agree on a quorum. Stop them with
// Stop, also when it fails.
func StartSentinel(ctx context.Context, dir string) (*Sentinel, error) {
	s := &Sentinel{}
	master, err := newTopologyRedis(dir, "redis-1", nil)
	if err != nil {
		return s, err
	}
	replica, err := newTopologyRedis(dir, "redis-2", []string{"--replicaof", "127.0.0.1", port(master.Addr)})
	if err != nil {
		return s, err
	}
	s.Redis = []*Redis{master, replica}
	for _, r := range s.Redis {
		if err := startWait(ctx, r); err != nil {
			return s, err
		}
	}
	for i := range 3 {
		p, addr, err := newSentinelProc(dir, fmt.Sprintf("sentinel-%d", i+1), master.Addr)
		if err != nil {
			return s, err
		}
		s.Sentinels, s.Addrs = append(s.Sentinels, p), append(s.Addrs, addr)
		if err := p.Start(); err != nil {
			return s, err
		}
	}
	if err := poll(ctx, 20*time.Second, "replica in sync", func() bool { return linkUp(ctx, replica.Addr) }); err != nil {
		return s, err
	}
	return s, poll(ctx, 20*time.Second, "sentinels see the replica and each other", func() bool {
		for _, a := range s.Addrs {
			if _, err := Do(ctx, a, "SENTINEL", "CKQUORUM", SentinelMaster); err != nil {
				return false
			}
			if v, err := Do(ctx, a, "SENTINEL", "REPLICAS", SentinelMaster); err != nil || len(asList(v)) != 1 {
				return false
			}
		}
		return true
	})
}

func newSentinelProc(dir, name, master string) (*Proc, string, error) {
	p, err := FreePort()
	if err != nil {
		return nil, "", err
	}
	sdir := filepath.Join(dir, name)
	if err := os.MkdirAll(sdir, 0o755); err != nil {
		return nil, "", err
	}
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
protected-mode no
dir %s
logfile ""
sentinel monitor %s 127.0.0.1 %s 2
sentinel down-after-milliseconds %[3]s 1000
sentinel failover-timeout %[3]s 3000
sentinel parallel-syncs %[3]s 1
`, p, sdir, SentinelMaster, port(master))
	path := filepath.Join(sdir, "sentinel.conf") // sentinels rewrite it
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, "", err
	}
	proc := &Proc{Name: name, Argv: []string{"redis-server", path, "--sentinel"},
		LogPath: filepath.Join(dir, name+".log"), DieWithParent: true}
	return proc, "127.0.0.1:" + strconv.Itoa(p), nil
}

// URL returns the GATEWAY_REDIS_URL of GATEWAY_REDIS_MODE=sentinel.
func (s *Sentinel) URL() string {
	u := "redis://" + s.Addrs[0] + "/0?master_name=" + SentinelMaster
	for _, a := range s.Addrs[1:] {
		u += "&addr=" + a
	}
	return u
}

// MasterAddr asks the sentinels (the first that answers) for the master.
func (s *Sentinel) MasterAddr(ctx context.Context) (string, error) {
	var last error
	for _, a := range s.Addrs {
		v, err := Do(ctx, a, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", SentinelMaster)
		if l := asList(v); err == nil && len(l) == 2 {
			return fmt.Sprintf("%v:%v", l[0], l[1]), nil
		}
		last = err
	}
	return "", fmt.Errorf("no sentinel named the master: %v", last)
}

// Node returns the Redis listening on addr, or nil.
func (s *Sentinel) Node(addr string) *Redis { return nodeAt(s.Redis, addr) }

// Procs returns every process, for log tails.
func (s *Sentinel) Procs() []*Proc {
	var ps []*Proc
	for _, r := range s.Redis {
		ps = append(ps, r.Proc)
	}
	return append(ps, s.Sentinels...)
}

// Stop kills every process.
func (s *Sentinel) Stop() {
	for _, p := range s.Procs() {
		p.Kill()
	}
}

// Cluster is a Redis Cluster of three masters with one replica each, on
// 127.0.0.1, with a 2 s node timeout and cluster-require-full-coverage
// no.
type Cluster struct {
	Redis []*Redis
}

// StartCluster starts six cluster-enabled servers with their data and
// logs under dir, joins them with redis-cli --cluster create
// --cluster-replicas 1, and waits (up to 30 s) until every node reports
// the cluster ok and every replica is in sync. Stop them with Stop, also
// when it fails.
func StartCluster(ctx context.Context, dir string) (*Cluster, error) {
	c := &Cluster{}
	var addrs []string
	for i := range 6 {
		name := fmt.Sprintf("redis-%d", i+1)
		r, err := newTopologyRedis(dir, name, []string{
			"--cluster-enabled", "yes", "--cluster-node-timeout", "2000",
			"--cluster-config-file", filepath.Join(dir, name, "nodes.conf"),
			"--cluster-replica-validity-factor", "0",
			// As docs/operations.md asks of partitioned deployments: the
			// other masters keep serving while one fails over.
			"--cluster-require-full-coverage", "no",
		})
		if err != nil {
			return c, err
		}
		c.Redis = append(c.Redis, r)
		if err := startWait(ctx, r); err != nil {
			return c, err
		}
		addrs = append(addrs, r.Addr)
	}
	args := append([]string{"--cluster", "create"}, addrs...)
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(cctx, "redis-cli", append(args, "--cluster-replicas", "1", "--cluster-yes")...).CombinedOutput()
	if err != nil {
		return c, fmt.Errorf("redis-cli --cluster create: %w\n%s", err, out)
	}
	return c, poll(ctx, 30*time.Second, "cluster ok with replicas in sync", func() bool {
		for _, r := range c.Redis {
			info, err := DoString(ctx, r.Addr, "CLUSTER", "INFO")
			if err != nil || infoField(info, "cluster_state") != "ok" {
				return false
			}
			repl, err := DoString(ctx, r.Addr, "INFO", "replication")
			if err != nil || (infoField(repl, "role") == "slave" && infoField(repl, "master_link_status") != "up") {
				return false
			}
			if !replicated(ctx, r.Addr) {
				return false
			}
		}
		return true
	})
}

// URL returns the GATEWAY_REDIS_URL of GATEWAY_REDIS_MODE=cluster.
func (c *Cluster) URL() string {
	u := "redis://" + c.Redis[0].Addr
	for i, r := range c.Redis[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=" + r.Addr
	}
	return u
}

// SlotOwner returns the master and the first replica that serve key's
// slot, as the first running node that answers CLUSTER SLOTS sees them.
func (c *Cluster) SlotOwner(ctx context.Context, key string) (master, replica string, err error) {
	for _, r := range c.Redis {
		if !r.Running() {
			continue
		}
		slot, err := Do(ctx, r.Addr, "CLUSTER", "KEYSLOT", key)
		if err != nil {
			continue
		}
		slots, err := Do(ctx, r.Addr, "CLUSTER", "SLOTS")
		if err != nil {
			continue
		}
		for _, s := range asList(slots) {
			l := asList(s)
			if len(l) < 3 || slot.(int64) < l[0].(int64) || slot.(int64) > l[1].(int64) {
				continue
			}
			master = nodeAddr(l[2])
			if len(l) > 3 {
				replica = nodeAddr(l[3])
			}
			return master, replica, nil
		}
	}
	return "", "", errors.New("no running node knows the slot's owner")
}

// replicated reports whether the node at addr sees a replica for every
// slot range.
func replicated(ctx context.Context, addr string) bool {
	slots, err := Do(ctx, addr, "CLUSTER", "SLOTS")
	if err != nil || len(asList(slots)) == 0 {
		return false
	}
	for _, s := range asList(slots) {
		if len(asList(s)) < 4 {
			return false
		}
	}
	return true
}

func nodeAddr(v any) string {
	l := asList(v)
	if len(l) < 2 {
		return ""
	}
	return fmt.Sprintf("%v:%v", l[0], l[1])
}

// Node returns the Redis listening on addr, or nil.
func (c *Cluster) Node(addr string) *Redis { return nodeAt(c.Redis, addr) }

// Procs returns every process, for log tails.
func (c *Cluster) Procs() []*Proc {
	var ps []*Proc
	for _, r := range c.Redis {
		ps = append(ps, r.Proc)
	}
	return ps
}

// Stop kills every node.
func (c *Cluster) Stop() {
	for _, r := range c.Redis {
		r.Kill()
	}
}

// newTopologyRedis prepares a persistence-free redis-server named name
// with its data in dir/name and its log in dir/name.log.
func newTopologyRedis(dir, name string, args []string) (*Redis, error) {
	rdir := filepath.Join(dir, name)
	if err := os.MkdirAll(rdir, 0o755); err != nil {
		return nil, err
	}
	r, err := NewRedis(RedisOptions{Dir: rdir, Args: args})
	if err != nil {
		return nil, err
	}
	r.Name, r.LogPath, r.DieWithParent = name, filepath.Join(dir, name+".log"), true
	return r, nil
}

func startWait(ctx context.Context, r *Redis) error {
	if err := r.Start(); err != nil {
		return err
	}
	return r.WaitPing(ctx, 10*time.Second)
}

// linkUp reports whether the replica at addr is in sync with its master.
func linkUp(ctx context.Context, addr string) bool {
	info, err := DoString(ctx, addr, "INFO", "replication")
	return err == nil && infoField(info, "master_link_status") == "up"
}

func nodeAt(rs []*Redis, addr string) *Redis {
	for _, r := range rs {
		if r.Addr == addr {
			return r
		}
	}
	return nil
}

func port(addr string) string { return addr[strings.LastIndexByte(addr, ':')+1:] }

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

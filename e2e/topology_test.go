package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// topology is a replicated Redis the harness runs instead of a single
// server: a Sentinel set or a Cluster (internal/testproc).
type topology interface {
	Mode() string // GATEWAY_REDIS_MODE
	URL() string  // GATEWAY_REDIS_URL
	Procs() []*testproc.Proc
	Stop()
	// owner returns the addresses of the master holding key (with
	// Sentinel: the master) and of its replica.
	owner(ctx context.Context, key string) (master, replica string, err error)
	node(addr string) *testproc.Redis
	client() redis.UniversalClient // the test's own, primary-routed
}

type sentinelTopo struct{ *testproc.Sentinel }

func (s sentinelTopo) Mode() string { return "sentinel" }
func (s sentinelTopo) owner(ctx context.Context, _ string) (string, string, error) {
	m, err := s.MasterAddr(ctx)
	if err != nil {
		return "", "", err
	}
	for _, r := range s.Redis {
		if r.Addr != m {
			return m, r.Addr, nil
		}
	}
	return m, "", nil
}
func (s sentinelTopo) node(addr string) *testproc.Redis { return s.Node(addr) }
func (s sentinelTopo) client() redis.UniversalClient {
	return redis.NewFailoverClient(&redis.FailoverOptions{MasterName: testproc.SentinelMaster, SentinelAddrs: s.Addrs, MaxRetries: -1})
}

type clusterTopo struct{ *testproc.Cluster }

func (c clusterTopo) Mode() string { return "cluster" }
func (c clusterTopo) owner(ctx context.Context, key string) (string, string, error) {
	return c.SlotOwner(ctx, key)
}
func (c clusterTopo) node(addr string) *testproc.Redis { return c.Node(addr) }
func (c clusterTopo) client() redis.UniversalClient {
	var addrs []string
	for _, r := range c.Redis {
		addrs = append(addrs, r.Addr)
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, MaxRetries: -1})
}

// startTopology starts a Sentinel set or a Cluster for the harness.
func (h *harness) startTopology(kind string) {
	h.t.Helper()
	dir := filepath.Join(h.dir, "redis")
	if err := os.RemoveAll(dir); err != nil { // a kept E2E_LOG_DIR of an earlier run
		h.t.Fatal(err)
	}
	var err error
	switch kind {
	case "sentinel":
		var s *testproc.Sentinel
		s, err = testproc.StartSentinel(h.ctx, dir)
		h.topo = sentinelTopo{s}
	case "cluster":
		var c *testproc.Cluster
		c, err = testproc.StartCluster(h.ctx, dir)
		h.topo = clusterTopo{c}
	default:
		h.t.Fatalf("unknown topology %q", kind)
	}
	if err != nil {
		h.t.Fatalf("start %s: %v", kind, err)
	}
	h.redisURL = h.topo.URL()
}

// TestSentinelFailover and TestClusterFailover: under publish load, with
// clients on two gateway nodes, replication is frozen (the replica is
// stopped and its link cut) while alarms are still accepted, then the
// master is SIGKILLed and its replica promoted. Those alarms are gone
// from Redis; every client must either get every accepted alarm or be
// told epoch_changed, and the gateway keeps serving without a restart.
func TestSentinelFailover(t *testing.T) { testFailover(t, options{nodes: 2, topology: "sentinel"}, 6) }

func TestClusterFailover(t *testing.T) { testFailover(t, options{nodes: 2, topology: "cluster"}, 6) }

// TestClusterFailoverPartitioned: the same with three partitions, one per
// master, and users in each; the master of partition failedPartition is
// the one killed. Its clients must get every accepted alarm or be told
// epoch_changed; the clients of the other partitions must see nothing of
// the failover: their one connection stays, no epoch_changed, every alarm
// in order.
func TestClusterFailoverPartitioned(t *testing.T) {
	testFailover(t, partitioned(2, clusterPartitions), 8) // 8 users: u7 is the first of partition 2
}

// failedPartition is the partition whose master the failover tests kill.
// The answers hold every id of partition 0 (a shared alarm's answer is
// its copy there), so the alarms Redis lost are known exactly.
const failedPartition = 0

func testFailover(t *testing.T, opts options, users int) {
	h := newHarness(t, opts)
	kind := opts.topology
	cs := startFleet(t, h, fleetSpec{users: users})
	perPart := checkSpread(t, h.parts, fleetUsers(cs))
	pub := newLoadPublisher(h)
	pick := fleetPick(users, 100)
	loadCtx, stopLoad := context.WithCancel(h.ctx)
	defer stopLoad()
	done := make(chan int)
	go func() { done <- pub.load(loadCtx, 100, 0, 8, pick) }()

	sleepCtx(h.ctx, 2*time.Second)
	master, replica, err := h.topo.owner(h.ctx, h.streamKey(failedPartition))
	if err == nil && replica != "" {
		err = h.alone(master)
	}
	if err != nil || replica == "" {
		stopLoad()
		<-done
		t.Fatalf("owner of the stream: %q %q %v", master, replica, err)
	}
	probeCtx, stopProbe := context.WithCancel(h.ctx)
	var probed <-chan *failoverProbe
	if h.parts > 1 {
		probed = h.probeFailover(probeCtx)
	}
	killed, promoted := h.freezeAndKill(master, replica)
	sleepCtx(h.ctx, 3*time.Second) // keep publishing on the new master
	stopProbe()
	if probed != nil {
		checkProbe(t, <-probed)
	}
	stopLoad()
	issued := <-done
	if err := h.allReady(); err != nil {
		t.Fatal(err)
	}
	checkPublisher(t, pub)
	truth := pub.truth()
	lost := h.lostAlarms(truth)
	firstAfter := time.Duration(0)
	for _, a := range truth {
		if a.part == failedPartition && int64(a.id.ms) > killed.UnixMilli() {
			firstAfter = a.at.Sub(killed)
			break
		}
	}
	if firstAfter == 0 {
		t.Errorf("no alarm accepted by the new master")
	}
	hit, others := splitByPartition(cs, failedPartition)
	all := h.perPartition(truth)
	s := verifyFailover(t, hit, all, lost, 30*time.Second)
	o := verifyUntouched(t, others, all, 30*time.Second)
	summary(t, "%s-failover%s: alarms=%d issued=%d clients=%d users_per_partition=%v lost_by_redis=%d told_epoch_changed=%d silent=%d deliveries=%d other_partitions_clients=%d other_partitions_deliveries=%d kill_to_promotion=%v kill_to_first_accepted=%v publish_retries=%d",
		kind, h.partitionLabel(), len(truth), issued, len(cs), perPart, len(lost), s.told, s.silent, s.received, len(others), o.received,
		promoted.Round(time.Millisecond), firstAfter.Round(time.Millisecond), pub.retries.Load())
}

// checkProbe checks what load balancers and new clients saw during the
// failover of one partition's master: every node stayed ready, and the
// users of the other partitions were welcomed every time.
func checkProbe(t *testing.T, p *failoverProbe) {
	t.Helper()
	summary(t, "failover-probe: rounds=%d not_ready=%d hellos_refused_per_partition=%v", p.rounds, p.notReady, p.refused)
	if p.notReady > 0 {
		t.Errorf("/readyz failed %d times while one partition's master failed over", p.notReady)
	}
	for k, n := range p.refused {
		if k != failedPartition && n > 0 {
			t.Errorf("partition %d: %d hellos refused while partition %d's master failed over", k, n, failedPartition)
		}
	}
}

// alone returns an error when a partition other than failedPartition has
// its log on master: killing master would then fail more than one.
func (h *harness) alone(master string) error {
	for k := range h.parts {
		if k == failedPartition {
			continue
		}
		m, _, err := h.topo.owner(h.ctx, h.streamKey(k))
		if err != nil {
			return err
		}
		if m == master {
			return fmt.Errorf("partitions %d and %d share the master %s", failedPartition, k, master)
		}
	}
	return nil
}

// splitByPartition returns the clients served by partition k and the
// others.
func splitByPartition(cs []*recClient, k int) (in, out []*recClient) {
	for _, c := range cs {
		if c.part == k {
			in = append(in, c)
		} else {
			out = append(out, c)
		}
	}
	return in, out
}

// verifyUntouched checks the clients of partitions whose master stayed up
// through a failover: each kept its one connection (one welcome, no
// close, so no epoch_changed) and got every accepted alarm, in order,
// once (verifyAll).
func verifyUntouched(t *testing.T, cs []*recClient, truth []accepted, limit time.Duration) stats {
	t.Helper()
	s := verifyAll(t, cs, truth, limit)
	for _, c := range cs {
		if conns, closes, _ := c.rec.snapshot(); len(conns) != 1 || len(closes) != 0 {
			t.Errorf("client %s of partition %d, whose master stayed up: %d welcomes, closes %v; want its first connection only",
				c.name, c.part, len(conns), closes)
		}
	}
	return s
}

// freezeAndKill stops the replica and cuts its link, so that what the
// master accepts from now on reaches no replica; after 700 ms of load it
// SIGKILLs the master and lets the replica run again. It returns when the
// kill happened and how long the promotion took from there.
func (h *harness) freezeAndKill(master, replica string) (time.Time, time.Duration) {
	h.t.Helper()
	key := h.streamKey(failedPartition)
	m, r := h.topo.node(master), h.topo.node(replica)
	if err := r.Signal(syscall.SIGSTOP); err != nil {
		h.t.Fatal(err)
	}
	if _, err := testproc.Do(h.ctx, master, "CLIENT", "KILL", "TYPE", "replica"); err != nil {
		_ = r.Signal(syscall.SIGCONT)
		h.t.Fatalf("CLIENT KILL TYPE replica: %v", err)
	}
	time.Sleep(700 * time.Millisecond)
	m.Kill()
	killed := time.Now()
	if err := r.Signal(syscall.SIGCONT); err != nil {
		h.t.Fatal(err)
	}
	for time.Since(killed) < 30*time.Second {
		if now, _, err := h.topo.owner(h.ctx, key); err == nil && now == replica {
			if role, _ := testproc.Do(h.ctx, replica, "ROLE"); len(asAny(role)) > 0 && asAny(role)[0] == "master" {
				return killed, time.Since(killed)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("%s not promoted within 30s of the kill", replica)
	return killed, 0
}

func asAny(v any) []any {
	l, _ := v.([]any)
	return l
}

// lostAlarms returns the ids of accepted alarms of failedPartition that
// its log no longer has.
func (h *harness) lostAlarms(truth []accepted) map[string]bool {
	h.t.Helper()
	rdb := h.topo.client()
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	entries, err := rdb.XRange(ctx, h.streamKey(failedPartition), "-", "+").Result()
	if err != nil {
		h.t.Fatalf("XRANGE: %v", err)
	}
	have := make(map[string]bool, len(entries))
	for _, e := range entries {
		have[e.ID] = true
	}
	lost := map[string]bool{}
	for _, a := range truth {
		if a.part == failedPartition && !have[a.idStr] {
			lost[a.idStr] = true
		}
	}
	return lost
}

// failoverStats sums verifyFailover's findings.
type failoverStats struct{ told, silent, received int }

// verifyFailover checks each client of failedPartition (lost holds ids
// of that partition): without an epoch_changed welcome it
// must have every accepted alarm on its channels (the strict check, lost
// ones included); with one, its connections before the last epoch_changed
// may have stopped short of the old history, and from that welcome on it
// must have every alarm Redis still holds after its position. silent
// counts clients that missed a lost alarm without being told.
func verifyFailover(t *testing.T, cs []*recClient, truth []accepted, lost map[string]bool, limit time.Duration) failoverStats {
	t.Helper()
	var kept []accepted
	for _, a := range truth {
		if a.part != failedPartition || !lost[a.idStr] {
			kept = append(kept, a)
		}
	}
	var fs failoverStats
	deadline := time.Now().Add(limit)
	for _, c := range cs {
		var err error
		for {
			conns, _, _ := c.rec.snapshot()
			err = checkFailoverRecord(conns, c.expected(truth), c.expected(kept))
			if err == nil || !strings.Contains(err.Error(), errIncomplete.Error()) || time.Now().After(deadline) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		conns, _, bad := c.rec.snapshot()
		told := slices.ContainsFunc(conns, func(cr connRec) bool { return cr.status == "epoch_changed" })
		if told {
			fs.told++
		}
		if err != nil {
			if !told {
				fs.silent++
			}
			t.Errorf("client %s (%s, told=%v): %v", c.name, strings.Join(c.channels, ","), told, err)
		}
		if len(bad) > 0 {
			t.Errorf("client %s: %d bad messages, first: %s", c.name, len(bad), bad[0])
		}
		if d := c.duplicates(); d != 0 {
			t.Errorf("client %s: client dropped %d duplicates", c.name, d)
		}
		for _, cr := range conns {
			fs.received += len(cr.alarms)
		}
	}
	return fs
}

// checkFailoverRecord is checkRecord around a declared rollback: the
// connections before the last epoch_changed welcome are checked against
// all accepted alarms (a correct prefix is enough), the rest, from that
// welcome's position, against those Redis kept. Without such a welcome
// the whole record is checked strictly against all accepted alarms.
func checkFailoverRecord(conns []connRec, all, kept []accepted) error {
	last := -1
	for i, cr := range conns {
		if cr.status == "epoch_changed" {
			last = i
		}
	}
	if last < 0 {
		return checkRecord(conns, all)
	}
	if err := checkRecord(conns[:last], all, "epoch_changed"); err != nil && !strings.Contains(err.Error(), errIncomplete.Error()) {
		return fmt.Errorf("before the rollback: %w", err)
	}
	rest := slices.Clone(conns[last:])
	rest[0].status = "new" // delivery starts over at its position
	if err := checkRecord(rest, kept); err != nil {
		return fmt.Errorf("after the epoch_changed welcome (conn %d): %w", last, err)
	}
	return nil
}

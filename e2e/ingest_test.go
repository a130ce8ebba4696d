package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// Keys of the default prefix that the ingest test reads.
const (
	ingestKey = "{alarms}:ingest"
	deadKey   = "{alarms}:ingest:dead"
	leaseKey  = "{alarms}:ingest:lease"
	logKey    = "{alarms}:stream"
	epochKey  = "{alarms}:epoch"
)

// TestIngestStream: while no gateway runs, 1000 alarms (and some malformed
// entries) are appended to the ingest stream with redis-cli XADD. Two
// nodes start; the one consuming is SIGKILLed in the middle of the
// consumption and restarted. Every client receives every alarm exactly
// once, in order per channel (checked on the wire against the ids the
// gateway assigned, read back from the log); the malformed entries are in
// the dead-letter stream; the lag metric returns to zero.
func TestIngestStream(t *testing.T) {
	h := newHarness(t, options{nodes: 2, env: map[string]string{
		"GATEWAY_INGEST_BATCH": "10", "GATEWAY_INGEST_CLAIM_IDLE": "2s",
	}})
	const users = 10
	cs := startFleet(t, h, fleetSpec{users: users})
	// One alarm through the API gives every client a position to resume
	// from once the nodes are back.
	pub := newLoadPublisher(h)
	pub.load(h.ctx, 100, 1, 1, func(int) (string, any) { return "broadcast", map[string]int{"marker": 1} })
	checkPublisher(t, pub)
	verifyAll(t, cs, pub.truth(), 10*time.Second)
	for _, n := range h.nodes {
		if _, _, err := n.Terminate(10 * time.Second); err != nil {
			t.Fatal(err)
		}
	}

	const total = 1000
	bad := appendWithRedisCLI(t, h, total, users)
	for i := range h.nodes {
		if err := h.nodes[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	killedAt := killConsumerMidway(t, h, total/5)
	waitIngestDrained(t, h, 60*time.Second)
	if err := h.allReady(); err != nil {
		t.Fatal(err)
	}

	truth, seen := readLog(t, h)
	if len(seen) != total {
		t.Errorf("log holds %d distinct ingest alarms, want %d", len(seen), total)
	}
	for n, k := range seen {
		if k != 1 {
			t.Errorf("ingest alarm n=%d appended %d times", n, k)
		}
	}
	dead, err := h.rdb.XRange(h.ctx, deadKey, "-", "+").Result()
	if err != nil || len(dead) != len(bad) {
		t.Errorf("dead letters: %d (%v), want %d", len(dead), err, len(bad))
	}
	reasons := map[string]int{}
	for _, d := range dead {
		r, _ := d.Values["reason"].(string)
		reasons[r]++
	}
	s := verifyAll(t, cs, truth, 30*time.Second)
	waitMetric(t, h, "alarmgate_ingest_lag", 0, 10*time.Second)
	waitMetric(t, h, "alarmgate_ingest_pending", 0, 10*time.Second)
	summary(t, "ingest: alarms=%d dead_letters=%d reasons=%v killed_at_log_len=%d clients=%d deliveries=%d lost=%d dup=%d reordered=%d",
		len(truth)-1, len(dead), reasons, killedAt, len(cs), s.received, s.lost, s.dup, s.reordered)
}

// appendWithRedisCLI appends n alarms (channel as the fleet's traffic,
// data {"n":i}) and every 100th position a malformed entry, with one
// redis-cli reading XADD commands from stdin. It returns the malformed
// entries' expected reasons.
func appendWithRedisCLI(t *testing.T, h *harness, n, users int) []string {
	t.Helper()
	pick := fleetPick(users, 0)
	malformed := []struct{ reason, args string }{
		{"bad_json", `channel user:u1 event e data '{"n":'`},
		{"bad_channel", `channel 'no spaces' event e data 1`},
		{"missing_field", `channel user:u1 data 1`},
		{"invalid_utf8", `channel user:u1 event e data "\"\xff\xfe\""`},
		{"too_large", `channel user:u1 event e data '"` + strings.Repeat("x", 70000) + `"'`},
	}
	var cmds bytes.Buffer
	var reasons []string
	for i := range n {
		if i%100 == 50 {
			m := malformed[len(reasons)%len(malformed)]
			fmt.Fprintf(&cmds, "XADD %s * %s\n", ingestKey, m.args)
			reasons = append(reasons, m.reason)
		}
		ch, _ := pick(i)
		fmt.Fprintf(&cmds, "XADD %s * channel %s event ingest data '{\"n\":%d}'\n", ingestKey, ch, i)
	}
	host, port, _ := strings.Cut(h.redis.Addr, ":")
	cli := exec.CommandContext(h.ctx, "redis-cli", "-h", host, "-p", port)
	cli.Stdin = &cmds
	out, err := cli.CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("ERR")) {
		t.Fatalf("redis-cli: %v\n%.500s", err, out)
	}
	if got, _ := h.rdb.XLen(h.ctx, ingestKey).Result(); got != int64(n+len(reasons)) {
		t.Fatalf("ingest stream holds %d entries, want %d", got, n+len(reasons))
	}
	return reasons
}

// killConsumerMidway waits until the log holds at least after ingest
// alarms, SIGKILLs the node holding the ingest lease, and restarts it. It
// returns the log length at the kill.
func killConsumerMidway(t *testing.T, h *harness, after int64) int64 {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, _ := h.rdb.XLen(h.ctx, logKey).Result()
		holder, _ := h.rdb.Get(h.ctx, leaseKey).Result()
		if n > after && holder != "" {
			for i, node := range h.nodes {
				if strings.HasPrefix(holder, node.Name+":") {
					node.Kill()
					killedAt := n
					time.Sleep(300 * time.Millisecond)
					if err := h.restartNode(i); err != nil {
						t.Fatal(err)
					}
					return killedAt
				}
			}
			t.Fatalf("lease holder %q is no node", holder)
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest did not start: log length %d, lease %q", n, holder)
		}
		time.Sleep(time.Millisecond)
	}
}

// waitIngestDrained waits until the group has delivered and acknowledged
// every entry.
func waitIngestDrained(t *testing.T, h *harness, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		gs, err := h.rdb.XInfoGroups(h.ctx, ingestKey).Result()
		if err == nil && len(gs) == 1 && gs[0].Lag == 0 && gs[0].Pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ingest not drained after %v: %+v %v", limit, gs, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readLog reads the alarm log as the truth clients are checked against,
// and counts how often each ingest alarm (data.n) appears in it.
func readLog(t *testing.T, h *harness) ([]accepted, map[int]int) {
	t.Helper()
	epoch, err := h.rdb.Get(h.ctx, epochKey).Result()
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := h.rdb.XRange(h.ctx, logKey, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var truth []accepted
	seen := map[int]int{}
	for _, m := range msgs {
		truth = append(truth, logAccepted(t, m, epoch))
		tail, _ := m.Values["t"].(string)
		var a struct {
			Event string `json:"event"`
			Data  struct {
				N int `json:"n"`
			} `json:"data"`
		}
		if err := json.Unmarshal([]byte("{"+strings.TrimPrefix(tail, ",")), &a); err != nil {
			t.Fatalf("log entry %s: %v", m.ID, err)
		}
		if a.Event == "ingest" {
			seen[a.Data.N]++
		}
	}
	return truth, seen
}

func logAccepted(t *testing.T, m redis.XMessage, epoch string) accepted {
	t.Helper()
	id, ok := parseSID(m.ID)
	ch, _ := m.Values["c"].(string)
	if !ok || ch == "" {
		t.Fatalf("log entry %s: bad id or channel", m.ID)
	}
	return accepted{id: id, idStr: m.ID, channel: ch, epoch: epoch}
}

// waitMetric waits until the named metric, summed over the nodes, is want.
func waitMetric(t *testing.T, h *harness, name string, want float64, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(h.ctx, limit)
	defer cancel()
	for {
		got := h.metric(name)
		if got == want {
			return
		}
		if ctx.Err() != nil {
			t.Errorf("%s = %v after %v, want %v", name, got, limit, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

package e2e

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/testproc"
)

// Spread scenario: what the criterion names.
const (
	spreadPartitions = 6
	spreadUsers      = 10000
	spreadPerUser    = 3
	spreadBatch      = 500
	spreadLow        = 0.25 // each master's least share of keys and memory
	spreadHigh       = 0.42 // and its largest
)

// masterStats is what one master holds and has run.
type masterStats struct {
	keys    int64
	memory  int64 // used_memory
	evalsha int64 // calls of EVALSHA (cmdstat_evalsha), the publish script's
	eval    int64 // calls of EVAL: the script's reload after NOSCRIPT
}

// TestPartitionSpread: six partitions on the 3-master Cluster, one node.
// Three alarms for each of 10 000 users (user:u0..u9999) go through the
// batch endpoint. Then each master must hold between 25 % and 42 % of the
// keys (DBSIZE) and of the memory they took (INFO memory used_memory
// minus what it used before the first publish), and each must have run
// publish scripts (INFO commandstats: EVALSHA calls).
func TestPartitionSpread(t *testing.T) {
	h := newHarness(t, partitioned(1, spreadPartitions))
	masters := h.masters()
	before := make([]masterStats, len(masters))
	for i, m := range masters {
		before[i] = h.readMaster(m)
	}
	alarms := h.publishToUsers(spreadUsers, spreadPerUser)
	h.waitReplicated(masters)
	var keys, mem []int64
	var evalsha []int64
	for i, m := range masters {
		after := h.readMaster(m)
		keys = append(keys, after.keys)
		mem = append(mem, after.memory-before[i].memory)
		evalsha = append(evalsha, after.evalsha-before[i].evalsha)
		if evalsha[i] == 0 {
			t.Errorf("master %s ran no EVALSHA while %d alarms were published (EVAL: %d)", m, alarms, after.eval-before[i].eval)
		}
	}
	keyShare, memShare := shares(keys), shares(mem)
	for i, m := range masters {
		if keyShare[i] < spreadLow || keyShare[i] > spreadHigh {
			t.Errorf("master %s holds %d of %d keys (%.1f%%), want %.0f%%..%.0f%%", m, keys[i], sum(keys), 100*keyShare[i], 100*spreadLow, 100*spreadHigh)
		}
		if memShare[i] < spreadLow || memShare[i] > spreadHigh {
			t.Errorf("master %s took %d of %d bytes (%.1f%%), want %.0f%%..%.0f%%", m, mem[i], sum(mem), 100*memShare[i], 100*spreadLow, 100*spreadHigh)
		}
	}
	summary(t, "spread-p%d: users=%d alarms=%d masters=%d keys=%v key_share=%s memory_bytes=%v memory_share=%s evalsha_calls=%v",
		spreadPartitions, spreadUsers, alarms, len(masters), keys, percents(keyShare), mem, percents(memShare), evalsha)
}

// masters returns the addresses of the Cluster's masters.
func (h *harness) masters() []string {
	h.t.Helper()
	c, ok := h.topo.(clusterTopo)
	if !ok {
		h.t.Fatal("masters: the harness runs no Cluster")
	}
	var out []string
	for _, r := range c.Redis {
		info, err := testproc.DoString(h.ctx, r.Addr, "INFO", "replication")
		if err != nil {
			h.t.Fatalf("INFO replication on %s: %v", r.Addr, err)
		}
		if infoValue(info, "role") == "master" {
			out = append(out, r.Addr)
		}
	}
	if len(out) != 3 {
		h.t.Fatalf("masters %v: want 3", out)
	}
	return out
}

// readMaster reads a master's key count, memory and script calls.
func (h *harness) readMaster(addr string) masterStats {
	h.t.Helper()
	n, err := testproc.Do(h.ctx, addr, "DBSIZE")
	keys, ok := n.(int64)
	if err != nil || !ok {
		h.t.Fatalf("DBSIZE on %s: %v %v", addr, n, err)
	}
	mem, err := testproc.DoString(h.ctx, addr, "INFO", "memory")
	if err != nil {
		h.t.Fatalf("INFO memory on %s: %v", addr, err)
	}
	cmds, err := testproc.DoString(h.ctx, addr, "INFO", "commandstats")
	if err != nil {
		h.t.Fatalf("INFO commandstats on %s: %v", addr, err)
	}
	used, err := strconv.ParseInt(infoValue(mem, "used_memory"), 10, 64)
	if err != nil {
		h.t.Fatalf("INFO memory on %s: used_memory: %v", addr, err)
	}
	return masterStats{keys: keys, memory: used, evalsha: calls(cmds, "evalsha"), eval: calls(cmds, "eval")}
}

// publishToUsers publishes perUser alarms to each of user:u0..u<users-1>
// through the batch endpoint (four requests at a time) and returns how
// many were accepted; a refused item or request fails the test.
func (h *harness) publishToUsers(users, perUser int) int {
	h.t.Helper()
	pad := strings.Repeat("x", 100)
	var items []client.BatchItem
	for round := range perUser {
		for u := range users {
			items = append(items, client.BatchItem{Channel: fmt.Sprintf("user:u%d", u), Event: "spread",
				Data: map[string]any{"round": round, "pad": pad}})
		}
	}
	jobs := make(chan []client.BatchItem)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex // guards accepted and first
		accepted int
		first    error
	)
	for range 4 {
		wg.Go(func() {
			for batch := range jobs {
				ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
				res, err := h.publisher(0).PublishBatch(ctx, batch)
				cancel()
				mu.Lock()
				for _, r := range res {
					if r.Err != nil && err == nil {
						err = r.Err
					} else if r.Err == nil {
						accepted++
					}
				}
				if err != nil && first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	for i := 0; i < len(items); i += spreadBatch {
		jobs <- items[i:min(i+spreadBatch, len(items))]
	}
	close(jobs)
	wg.Wait()
	if first != nil || accepted != len(items) {
		h.t.Fatalf("batch publish: %d of %d accepted; first error: %v", accepted, len(items), first)
	}
	return accepted
}

// waitReplicated waits (up to 20 s) until every master's replica has
// taken everything, so that no replication buffer is counted as memory.
func (h *harness) waitReplicated(masters []string) {
	h.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range masters {
		for {
			info, err := testproc.DoString(h.ctx, m, "INFO", "replication")
			if err == nil && strings.Contains(infoValue(info, "slave0"), "offset="+infoValue(info, "master_repl_offset")+",") {
				break
			}
			if time.Now().After(deadline) {
				h.t.Fatalf("replica of %s not caught up within 20s: %v", m, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// infoValue returns field of an INFO reply ("" when absent).
func infoValue(info, field string) string {
	for l := range strings.SplitSeq(info, "\r\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			return v
		}
	}
	return ""
}

// calls returns the calls of cmd in an INFO commandstats reply.
func calls(info, cmd string) int64 {
	for part := range strings.SplitSeq(infoValue(info, "cmdstat_"+cmd), ",") {
		if v, ok := strings.CutPrefix(part, "calls="); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}

func sum(v []int64) int64 {
	var s int64
	for _, x := range v {
		s += x
	}
	return s
}

// shares returns each value's fraction of their sum.
func shares(v []int64) []float64 {
	out := make([]float64, len(v))
	if total := sum(v); total > 0 {
		for i, x := range v {
			out[i] = float64(x) / float64(total)
		}
	}
	return out
}

func percents(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = fmt.Sprintf("%.1f%%", 100*x)
	}
	return "[" + strings.Join(parts, " ") + "]"
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// clusterPartitions is the partition count of the scenarios that also run
// partitioned: one partition per master of testproc's Cluster, so that
// each master holds one partition (stream's partitionTag).
const clusterPartitions = 3

// partitioned returns options for nodes gateway nodes on a 3-master
// Cluster with GATEWAY_PARTITIONS=parts.
func partitioned(nodes, parts int) options {
	return options{nodes: nodes, topology: "cluster", env: map[string]string{"GATEWAY_PARTITIONS": strconv.Itoa(parts)}}
}

// partitionsOf returns GATEWAY_PARTITIONS of env (1 when unset).
func partitionsOf(t *testing.T, env map[string]string) int {
	t.Helper()
	s, ok := env["GATEWAY_PARTITIONS"]
	if !ok {
		return stream.DefaultPartitions
	}
	p, err := strconv.Atoi(s)
	if err != nil || p < 1 || p > stream.MaxPartitions {
		t.Fatalf("GATEWAY_PARTITIONS=%q: want 1..%d", s, stream.MaxPartitions)
	}
	return p
}

// streamKey returns the key of partition k's log ({alarms}:stream with
// one partition and the default prefix).
func (h *harness) streamKey(k int) string {
	h.t.Helper()
	rdb := redis.NewClient(&redis.Options{}) // stream.New needs one; nothing dials it
	defer rdb.Close()
	st, err := stream.New(stream.Config{Prefix: h.prefix, Partitions: h.parts, Partition: k}, rdb, nil)
	if err != nil {
		h.t.Fatalf("partition %d of %d: %v", k, h.parts, err)
	}
	return st.StreamKey()
}

// logTail is the field t of the log entry of an alarm published with
// client.Publisher: how the alarm is found in every partition's log.
func logTail(channel, event string, data any) (string, error) {
	raw, ok := data.(json.RawMessage)
	if !ok || len(raw) == 0 {
		b, err := json.Marshal(data)
		if err != nil {
			return "", err
		}
		raw = b
	}
	t, err := alarm.EncodeTail(channel, event, raw)
	return string(t), err
}

// perPartition returns truth (sorted by id) as the clients of each
// partition see it. With one partition it is truth itself. With more, an
// alarm on a user channel keeps its answer's id, in its partition; a
// shared alarm's answer is its copy in partition 0, and its copy in each
// other partition (another id there) is read back from that partition's
// log, found by its content. A shared alarm missing from a partition's
// log fails the test: with an Idempotency-Key every accepted alarm is in
// every partition exactly once. Partition 0's log is not read: the
// answers are its truth, also when its master lost some of them.
func (h *harness) perPartition(truth []accepted) []accepted {
	h.t.Helper()
	if h.parts == 1 {
		return truth
	}
	out := slices.Clone(truth)
	for k := 1; k < h.parts; k++ {
		ids := h.logByTail(k)
		for _, a := range truth {
			if a.part != 0 || !isShared(a.channel) {
				continue
			}
			l := ids[a.tail]
			if len(l) == 0 {
				h.t.Fatalf("shared alarm %s on %s (partition 0) has no copy in partition %d's log %s", a.idStr, a.channel, k, h.streamKey(k))
			}
			ids[a.tail] = l[1:]
			c := a
			c.id, c.idStr, c.part = l[0], l[0].String(), k
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b accepted) int { return a.id.compare(b.id) })
	return out
}

// isShared reports whether channel is appended to every partition.
func isShared(channel string) bool {
	_, shared := stream.PartitionOf(channel, 2)
	return shared
}

// logByTail reads partition k's whole log: the ids of its entries by
// their field t, oldest first.
func (h *harness) logByTail(k int) map[string][]sid {
	h.t.Helper()
	rdb := h.topo.client()
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(h.ctx, 20*time.Second)
	defer cancel()
	key := h.streamKey(k)
	entries, err := rdb.XRange(ctx, key, "-", "+").Result()
	if err != nil {
		h.t.Fatalf("XRANGE %s: %v", key, err)
	}
	out := make(map[string][]sid, len(entries))
	for _, e := range entries {
		t, _ := e.Values["t"].(string)
		id, ok := parseSID(e.ID)
		if !ok {
			h.t.Fatalf("XRANGE %s: bad id %q", key, e.ID)
		}
		out[t] = append(out[t], id)
	}
	return out
}

// checkSpread fails the test unless the users (subjects) have at least
// one in every partition of parts: a partitioned scenario must exercise
// all of them. It returns the number of users in each partition.
func checkSpread(t *testing.T, parts int, users []string) []int {
	t.Helper()
	per := make([]int, parts)
	for _, u := range users {
		k, _ := stream.PartitionOf("user:"+u, parts)
		per[k]++
	}
	if slices.Contains(per, 0) {
		t.Fatalf("users %v per partition: %v; want at least one in each of the %d", users, per, parts)
	}
	return per
}

// fleetUsers returns the subjects of cs, each once.
func fleetUsers(cs []*recClient) []string {
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.sub) {
			out = append(out, c.sub)
		}
	}
	return out
}

// partitionLabel is a summary's label suffix: "" with one partition,
// "-p<P>" with more.
func (h *harness) partitionLabel() string {
	if h.parts == 1 {
		return ""
	}
	return fmt.Sprintf("-p%d", h.parts)
}

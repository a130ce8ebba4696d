package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// partitionedStores returns the stores of every partition of one fresh
// prefix on the shared Redis; the keys of every partition are deleted at
// cleanup.
func partitionedStores(t *testing.T, partitions int) ([]*Store, redis.UniversalClient) {
	t.Helper()
	rdb := testClient(t, backend{"redis", true})
	prefix := testutil.Prefix(t)
	t.Cleanup(func() { deletePartitionKeys(t, prefix) })
	stores := make([]*Store, partitions)
	for k := range stores {
		s, err := New(Config{Prefix: prefix, Partitions: partitions, Partition: k}, rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		stores[k] = s
	}
	return stores, rdb
}

// deletePartitionKeys deletes the keys {prefix/...}:* of the partitions
// of prefix (testutil.Prefix deletes {prefix}:* only).
func deletePartitionKeys(t *testing.T, prefix string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := testproc.Do(ctx, testproc.RedisAddr(), "KEYS", "{"+prefix+"/*")
	if err != nil {
		t.Logf("cleanup of %s: %v", prefix, err)
		return
	}
	keys, _ := v.([]any)
	for _, k := range keys {
		if s, ok := k.(string); ok {
			_, _ = testproc.Do(ctx, testproc.RedisAddr(), "DEL", s)
		}
	}
}

// inboxOf returns an inbox channel of partition k of partitions.
func inboxOf(t *testing.T, k, partitions int) string {
	t.Helper()
	for c := 'a'; c <= 'z'; c++ {
		ch := "user:" + string(c)
		if p, _ := PartitionOf(ch, partitions); p == k {
			return ch
		}
	}
	t.Fatalf("no inbox of partition %d of %d among user:a..user:z", k, partitions)
	return ""
}

// TestSettleDeletesRecordsInTheirPartitions: with three partitions, the
// consumer of partition 1's ingest stream publishes an inbox entry into
// the inbox's partition and a shared one into all three; the records
// name partition 1 (the same entry id from partition 0's stream is
// another record), and Settle deletes them from the partitions they are
// in, for the entries it acknowledged only.
func TestSettleDeletesRecordsInTheirPartitions(t *testing.T) {
	stores, rdb := partitionedStores(t, 3)
	ctx := testCtx(t)
	g := stores[1].IngestGroup("g", 100)
	if err := g.Create(ctx); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if err := g.Add(ctx, IngestFields{"channel", "x"}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := g.ReadNew(ctx, "c1", 3, time.Millisecond)
	if err != nil || len(got) != 3 {
		t.Fatalf("ReadNew = %+v, %v", got, err)
	}
	a, b, c := got[0].ID, got[1].ID, got[2].ID
	inbox, other := inboxOf(t, 2, 3), inboxOf(t, 0, 3)
	publish := func(s *Store, channel, id string, src int) PublishResult {
		t.Helper()
		r, err := s.Publish(ctx, PublishInput{Channel: channel, Event: "e", EntryID: id, EntryPartition: src})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	publish(stores[2], inbox, a, 1)
	if r := publish(stores[2], inbox, a, 0); r.Replayed {
		t.Fatal("entry a of partition 0's stream was taken for entry a of partition 1's")
	}
	if r := publish(stores[2], inbox, a, 1); !r.Replayed {
		t.Fatal("entry a of partition 1's stream published twice")
	}
	for _, s := range stores {
		publish(s, "broadcast", b, 1)
	}
	publish(stores[0], other, c, 1)
	record := func(k, src int, id string) string { return stores[k].IngestKeys().entryIdem(3, src, id) }
	if _, err := g.Claim(ctx, "c2", []string{c}); err != nil {
		t.Fatal(err)
	}
	ack := []IngestAck{{ID: a, Channel: inbox}, {ID: b, Channel: "broadcast"}, {ID: c, Channel: other}}
	if err := g.Settle(ctx, "c1", nil, ack); err != nil {
		t.Fatal(err)
	}
	for _, r := range []struct {
		key  string
		want int64
	}{
		{record(2, 1, a), 0}, {record(0, 1, b), 0}, {record(1, 1, b), 0}, {record(2, 1, b), 0},
		{record(2, 0, a), 1}, // another entry's
		{record(0, 1, c), 1}, // claimed by c2: not acknowledged by c1
	} {
		if n := rdb.Exists(ctx, r.key).Val(); n != r.want {
			t.Errorf("%s exists %d, want %d", r.key, n, r.want)
		}
	}
	if pend, err := g.Pending(ctx, 10); err != nil || len(pend) != 1 || pend[0].ID != c {
		t.Fatalf("Pending = %+v, %v, want only %s", pend, err, c)
	}
	if _, err := stores[0].Publish(ctx, PublishInput{Channel: other, Event: "e", EntryID: a, EntryPartition: 3}); !errors.Is(err, alarm.ErrInvalidIdemKey) {
		t.Fatalf("EntryPartition beyond Partitions: %v, want ErrInvalidIdemKey", err)
	}
}

// TestIngestKeyOf: the stream to XADD to is the ingest stream of the
// channel's partition, partition 0's for a shared channel; one
// partition's is {prefix}:ingest. IngestStreams lists every partition's.
func TestIngestKeyOf(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	streamOf := func(prefix string, partitions, k int) string {
		s, err := New(Config{Prefix: prefix, Partitions: partitions, Partition: k}, rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s.IngestKeys().Stream
	}
	for _, tc := range []struct {
		prefix     string
		partitions int
		channel    string
		want       string
	}{
		{"", 0, "user:42", "{alarms}:ingest"},
		{"alarms", 1, "broadcast", "{alarms}:ingest"},
		{"acme", 4, "team:ops", streamOf("acme", 4, 0)},
		{"acme", 4, inboxOf(t, 3, 4), streamOf("acme", 4, 3)},
		{"acme", 4, inboxOf(t, 1, 4), streamOf("acme", 4, 1)},
	} {
		if got, err := IngestKeyOf(tc.prefix, tc.partitions, tc.channel); err != nil || got != tc.want {
			t.Errorf("IngestKeyOf(%q, %d, %q) = %q, %v; want %q", tc.prefix, tc.partitions, tc.channel, got, err, tc.want)
		}
	}
	all, err := IngestStreams("acme", 4)
	if err != nil || len(all) != 4 {
		t.Fatalf("IngestStreams = %v, %v", all, err)
	}
	for k, key := range all {
		if key != streamOf("acme", 4, k) {
			t.Errorf("IngestStreams: partition %d's is %q, want %q", k, key, streamOf("acme", 4, k))
		}
	}
	if one, err := IngestStreams("", 0); err != nil || len(one) != 1 || one[0] != "{alarms}:ingest" {
		t.Errorf("IngestStreams of one partition = %v, %v", one, err)
	}
	for _, bad := range []struct {
		prefix     string
		partitions int
	}{{"a b", 1}, {"a/b", 2}, {"alarms", -1}, {"alarms", MaxPartitions + 1}} {
		if got, err := IngestKeyOf(bad.prefix, bad.partitions, "user:1"); err == nil {
			t.Errorf("IngestKeyOf(%q, %d) = %q, want an error", bad.prefix, bad.partitions, got)
		}
		if got, err := IngestStreams(bad.prefix, bad.partitions); err == nil {
			t.Errorf("IngestStreams(%q, %d) = %q, want an error", bad.prefix, bad.partitions, got)
		}
	}
}

package stream

import (
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestKeysGolden lists every key and channel name of one partition (the
// default): they are the names of running deployments and must never
// drift. A field added to keys fails the comparison until it is listed.
func TestKeysGolden(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	for _, cfg := range []Config{{}, {Partitions: 1}, {Prefix: "alarms", Partitions: 1, Partition: 0}} {
		s, err := New(cfg, rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := keys{
			stream:        "{alarms}:stream",
			epoch:         "{alarms}:epoch",
			idemPrefix:    "{alarms}:idem:",
			idemNone:      "{alarms}:idem",
			live:          "{alarms}:live",
			backlogPrefix: "{alarms}:ch:",
			reqPrefix:     "{alarms}:req:",
			ibPrefix:      "{alarms}:ib:",
			ixPrefix:      "{alarms}:ix:",
			sePrefix:      "{alarms}:se:",
			ingest: IngestKeys{
				Stream: "{alarms}:ingest",
				Dead:   "{alarms}:ingest:dead",
				Lease:  "{alarms}:ingest:lease",
				Idem:   "{alarms}:iidem:",
			},
		}
		if s.keys != want {
			t.Fatalf("keys of %+v:\n%+v\nwant\n%+v", cfg, s.keys, want)
		}
		ix, ib, se := s.keys.inbox("user:42")
		for _, n := range []struct{ got, want string }{
			{s.HashTag(), "{alarms}"},
			{s.StreamKey(), "{alarms}:stream"},
			{s.EpochKey(), "{alarms}:epoch"},
			{s.LiveChannel(), "{alarms}:live"},
			{s.ProbeChannel("n1"), "{alarms}:live:probe:n1"},
			{s.keys.idem("k"), "{alarms}:idem:k"},
			{s.keys.ingest.entryIdem(1, 0, "1-0"), "{alarms}:iidem:1-0"},
			{s.IngestKeys().entryIdem(s.cfg.Partitions, s.cfg.Partition, "1-0"), "{alarms}:iidem:1-0"},
			{s.keys.request("tok"), "{alarms}:req:tok"},
			{s.keys.backlog("broadcast"), "{alarms}:ch:broadcast"},
			{s.keys.backlog("user:42"), "{alarms}:ch:user:42"},
			{ix, "{alarms}:ix:user:42"},
			{ib, "{alarms}:ib:user:42"},
			{se, "{alarms}:se:user:42"},
		} {
			if n.got != n.want {
				t.Errorf("%+v: name %q, want %q", cfg, n.got, n.want)
			}
		}
		if k, p := s.Partition(), s.Partitions(); k != 0 || p != 1 {
			t.Errorf("%+v: Partition(), Partitions() = %d, %d", cfg, k, p)
		}
	}
}

// TestKeysPartitioned: a Store of partition k of P names every key and
// channel under its own tag, one slot apart from the other partitions'.
func TestKeysPartitioned(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	slots := map[int]bool{}
	for k := range 6 {
		s, err := New(Config{Prefix: "alarmgate", Partitions: 6, Partition: k}, rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		tag, _ := partitionTag("alarmgate", 6, k)
		if s.HashTag() != tag {
			t.Fatalf("partition %d: tag %q, want %q", k, s.HashTag(), tag)
		}
		if got, p := s.Partition(), s.Partitions(); got != k || p != 6 {
			t.Fatalf("Partition(), Partitions() = %d, %d", got, p)
		}
		ix, ib, se := s.keys.inbox("user:42")
		ik := s.IngestKeys()
		names := []string{s.StreamKey(), s.EpochKey(), s.LiveChannel(), s.ProbeChannel("n1"), s.keys.idem("k"),
			s.keys.idemNone, ik.entryIdem(6, 3, "1-0"), s.keys.request("tok"), s.keys.backlog("broadcast"), ix, ib, se,
			ik.Stream, ik.Dead, ik.Lease}
		slot := keySlot(tag)
		for _, n := range names {
			if !strings.HasPrefix(n, tag+":") || keySlot(n) != slot {
				t.Errorf("partition %d: name %q not under %s (slot %d, want %d)", k, n, tag, keySlot(n), slot)
			}
		}
		if s.StreamKey() != tag+":stream" || s.LiveChannel() != tag+":live" {
			t.Errorf("partition %d: %q %q", k, s.StreamKey(), s.LiveChannel())
		}
		if got := ik.entryIdem(6, 3, "1-0"); got != tag+":iidem:3:1-0" {
			t.Errorf("partition %d: the record of entry 1-0 of partition 3 is %q", k, got)
		}
		if slots[slot] {
			t.Errorf("partition %d shares slot %d", k, slot)
		}
		slots[slot] = true
	}
}

package stream

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// benchRedis returns a client of a redis-server of the benchmark's own
// (privateRedis), so that its INFO commandstats count only its calls.
func benchRedis(b *testing.B) redis.UniversalClient {
	b.Helper()
	r := privateRedis(b)
	rdb := redis.NewClient(&redis.Options{Addr: r.Addr, ContextTimeoutEnabled: true})
	b.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// scriptUsec returns the calls of EVAL and EVALSHA so far and the
// microseconds Redis spent in them (the commands inside included).
func scriptUsec(b *testing.B, rdb redis.UniversalClient) (calls, usec int64) {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		name, stats, ok := strings.Cut(line, ":")
		if !ok || (name != "cmdstat_evalsha" && name != "cmdstat_eval") {
			continue
		}
		for _, kv := range strings.Split(stats, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch k {
			case "calls":
				calls += n
			case "usec":
				usec += n
			}
		}
	}
	return calls, usec
}

// BenchmarkInboxCost measures the Redis time of the inbox's calls on
// inboxes of 100, 1000 and 10 000 alarms of 200 bytes, every alarm read:
// a change that changes nothing ("mark all read" again), a change of one
// alarm (read and unread alternately), "mark all read" flipping the 100
// newest (made unread again, unmeasured, between the calls) and a page of
// 50 (GET /v1/inbox?limit=50). redis-us/op is the time Redis spent in the
// measured script calls (INFO commandstats), on a redis-server of its own;
// ns/op includes the round trips and the bracketing INFO calls. Run with
// -bench InboxCost; nothing here is a test.
func BenchmarkInboxCost(b *testing.B) {
	rdb := benchRedis(b)
	for _, n := range []int{100, 1000, 10000} {
		s, err := New(Config{Prefix: "bench" + strconv.Itoa(n), ChannelBacklog: 10000, MaxLen: 50000}, rdb, nil)
		if err != nil {
			b.Fatal(err)
		}
		ch := "user:42"
		ids := fillInbox(b, s, ch, n, 200)
		newest := ids[n-1]
		change := func(c protocol.StateChange, want int) {
			if res, err := s.ChangeState(context.Background(), ch, c); err != nil || (want >= 0 && res.Changed != want) {
				b.Fatalf("%+v: %+v %v", c, res, err)
			}
		}
		readAll := protocol.StateChange{Op: protocol.OpRead, UpTo: newest}
		change(readAll, -1)
		last100 := ids[n-100:]
		cases := []struct {
			name  string
			setup func(i int)
			call  func(i int)
		}{
			{"noop", nil, func(int) { change(readAll, 0) }},
			{"one", nil, func(i int) {
				change(protocol.StateChange{Op: []string{protocol.OpUnread, protocol.OpRead}[i%2], IDs: []string{newest}}, 1)
			}},
			{"read100", func(int) { change(protocol.StateChange{Op: protocol.OpUnread, IDs: last100}, 100) },
				func(int) { change(readAll, 100) }},
			{"page50", nil, func(int) {
				if in, err := s.ReadInbox(context.Background(), ch, InboxQuery{Limit: 50}); err != nil || len(in.Items) != 50 {
					b.Fatalf("page: %d items, %v", len(in.Items), err)
				}
			}},
		}
		for _, c := range cases {
			b.Run(c.name+"/n="+strconv.Itoa(n), func(b *testing.B) { measureScript(b, rdb, c.setup, c.call) })
		}
	}
}

// measureScript runs setup (nil: none) and call for the op numbered i,
// twice to load the scripts, then b.N times, and reports the Redis time of
// the calls alone as redis-us/op.
func measureScript(b *testing.B, rdb redis.UniversalClient, setup, call func(i int)) {
	i := 0
	run := func() {
		if setup != nil {
			setup(i)
		}
		call(i)
		i++
	}
	run()
	run()
	ops, calls, usec := 0, int64(0), int64(0)
	for b.Loop() {
		if setup != nil {
			setup(i)
		}
		c0, u0 := scriptUsec(b, rdb)
		call(i)
		c1, u1 := scriptUsec(b, rdb)
		calls, usec = calls+c1-c0, usec+u1-u0
		i, ops = i+1, ops+1
	}
	if calls != int64(ops) {
		b.Fatalf("%d script calls for %d ops", calls, ops)
	}
	b.ReportMetric(float64(usec)/float64(ops), "redis-us/op")
}

// usedMemory returns INFO memory's used_memory.
func usedMemory(b *testing.B, rdb redis.UniversalClient) int64 {
	b.Helper()
	info, err := rdb.Info(context.Background(), "memory").Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	b.Fatal("no used_memory")
	return 0
}

// BenchmarkInboxMemory measures the Redis memory of inboxes (INFO memory,
// used_memory before and after, the log deleted before the second
// reading so that only the inboxes count) on a redis-server of its own:
// users × alarms of 200 bytes, then with every alarm read one at a time
// (a state event each, StateEvents kept). Run with -bench InboxMemory
// -benchtime 1x; nothing here is a test.
func BenchmarkInboxMemory(b *testing.B) {
	rdb := benchRedis(b)
	ctx := context.Background()
	for _, shape := range []struct{ users, alarms int }{{5000, 1}, {5000, 4}, {200, 100}, {20, 1000}} {
		name := strconv.Itoa(shape.users) + "x" + strconv.Itoa(shape.alarms)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if err := rdb.FlushAll(ctx).Err(); err != nil {
					b.Fatal(err)
				}
				s, err := New(Config{Prefix: "mem", MaxLen: 1 << 30}, rdb, nil)
				if err != nil {
					b.Fatal(err)
				}
				fillInbox(b, s, "user:0", 1, 200) // the epoch, the scripts
				rdb.Del(ctx, s.keys.backlog("user:0"))
				ix, ib, se := s.keys.inbox("user:0")
				rdb.Del(ctx, ix, ib, se)
				rdb.Del(ctx, rdb.Keys(ctx, "{mem}:req:*").Val()...)
				before := usedMemory(b, rdb)
				ids := make([][]string, shape.users)
				for u := range shape.users {
					ids[u] = fillInbox(b, s, "user:"+strconv.Itoa(u+1), shape.alarms, 200)
				}
				rdb.Del(ctx, s.keys.stream)
				rdb.Del(ctx, rdb.Keys(ctx, "{mem}:req:*").Val()...)
				alarms := usedMemory(b, rdb)
				for u := range shape.users {
					for _, id := range ids[u][max(0, len(ids[u])-int(DefaultStateEvents)):] {
						if _, err := s.ChangeState(ctx, "user:"+strconv.Itoa(u+1), protocol.StateChange{Op: protocol.OpRead, IDs: []string{id}}); err != nil {
							b.Fatal(err)
						}
					}
				}
				rdb.Del(ctx, s.keys.stream)
				rdb.Del(ctx, rdb.Keys(ctx, "{mem}:req:*").Val()...)
				read := usedMemory(b, rdb)
				n := float64(shape.users * shape.alarms)
				b.ReportMetric(float64(alarms-before)/n, "B/alarm")
				b.ReportMetric(float64(alarms-before)/float64(shape.users), "B/user")
				events := float64(shape.users * min(shape.alarms, int(DefaultStateEvents)))
				b.ReportMetric(float64(read-alarms)/events, "B/event")
			}
		})
	}
}

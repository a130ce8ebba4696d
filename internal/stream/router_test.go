package stream

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// newTestParts returns the p stores of one deployment under a unique
// prefix on the real Redis (its keys, every partition's, are deleted at
// cleanup). down[k], when set, is partition k's client instead.
func newTestParts(t testing.TB, cfg Config, p int, down map[int]redis.UniversalClient) []*Store {
	t.Helper()
	rdb := testClient(t, realRedis)
	cfg.Prefix, cfg.Partitions = testutil.Prefix(t), p
	parts := make([]*Store, p)
	for k := range parts {
		c := rdb
		if d := down[k]; d != nil {
			c = d
		}
		cfg.Partition = k
		s, err := New(cfg, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		parts[k] = s
	}
	return parts
}

// newTestRouter returns a Router without pipeliners over newTestParts.
func newTestRouter(t testing.TB, cfg Config, p int, down map[int]redis.UniversalClient) *Router {
	t.Helper()
	r, err := NewRouter(newTestParts(t, cfg, p, down), nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// refusedClient returns a client of an address nothing listens on: every
// call fails with ECONNREFUSED, without retries (one dial, no backoff).
func refusedClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t), MaxRetries: -1, DialerRetries: 1,
		DialerRetryTimeout: time.Millisecond, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// closedClient returns a closed client: every call fails with
// redis.ErrClosed.
func closedClient(t testing.TB) redis.UniversalClient {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	_ = rdb.Close()
	return rdb
}

// userIn returns the n-th inbox channel "user:u<i>" of partition k of p.
func userIn(k, p, n int) string {
	for i := 0; ; i++ {
		c := "user:u" + strconv.Itoa(i)
		if got, _ := PartitionOf(c, p); got == k {
			if n == 0 {
				return c
			}
			n--
		}
	}
}

func alarmOn(channel string) PublishInput {
	return PublishInput{Channel: channel, Event: "e", Data: json.RawMessage(`{"on":"` + channel + `"}`)}
}

// logOf returns the log of s, oldest first.
func logOf(t testing.TB, s *Store) []alarm.Entry {
	t.Helper()
	es, err := s.Range(testCtx(t), protocol.Zero, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// epochOf returns the epoch of s.
func epochOf(t testing.TB, s *Store) string {
	t.Helper()
	e, err := s.rdb.Get(testCtx(t), s.EpochKey()).Result()
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// checkLogs checks that the log of every partition of r but those down
// holds, in order, the items of ins that are its own (of its partition,
// or shared) and that stored holds true of; and that an accepted item's
// result is its entry in its partition (a shared item's, in partition 0),
// with that partition's epoch.
func checkLogs(t *testing.T, r *Router, ins []PublishInput, results []PublishResult, errs []error,
	stored func(i int) bool, down map[int]redis.UniversalClient) {
	t.Helper()
	for k := range r.Len() {
		if down[k] != nil {
			continue
		}
		var want []int
		for i, in := range ins {
			if home, shared := PartitionOf(in.Channel, r.Len()); (shared || home == k) && stored(i) {
				want = append(want, i)
			}
		}
		got := logOf(t, r.Part(k))
		if len(got) != len(want) {
			t.Fatalf("partition %d: log holds %d alarms, want %d (items %v)", k, len(got), len(want), want)
		}
		for j, i := range want {
			if got[j].Channel != ins[i].Channel {
				t.Errorf("partition %d: entry %d on %q, want item %d's %q", k, j, got[j].Channel, i, ins[i].Channel)
			}
			if home, _ := PartitionOf(ins[i].Channel, r.Len()); errs[i] != nil || home != k {
				continue
			}
			if results[i].ID != got[j].ID || results[i].Channel != ins[i].Channel || results[i].Epoch != epochOf(t, r.Part(k)) {
				t.Errorf("partition %d: item %d answered %+v, its entry is %s", k, i, results[i], got[j].ID)
			}
		}
	}
}

// TestNewRouterValidates: NewRouter takes partition k's store at index
// k, every one configured alike, and a pipeliner per partition, its own.
func TestNewRouterValidates(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	mk := func(cfg Config, p, k int) *Store {
		cfg.Prefix, cfg.Partitions, cfg.Partition = "alarms", p, k
		s, err := New(cfg, rdb, nil)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	three := []*Store{mk(Config{}, 3, 0), mk(Config{}, 3, 1), mk(Config{}, 3, 2)}
	pipes := []*Pipeliner{three[0].NewPipeliner(0), three[1].NewPipeliner(0), three[2].NewPipeliner(0)}
	one := mk(Config{}, 1, 0)
	for _, c := range []struct {
		name  string
		parts []*Store
		pipes []*Pipeliner
		want  string // "" when valid
	}{
		{"one", []*Store{one}, nil, ""},
		{"one with its pipeliner", []*Store{one}, []*Pipeliner{one.NewPipeliner(0)}, ""},
		{"three", three, nil, ""},
		{"three with pipeliners", three, pipes, ""},
		{"none", nil, nil, "no partitions"},
		{"nil store", []*Store{three[0], nil, three[2]}, nil, "nil store"},
		{"fewer stores than partitions", three[:2], nil, "store 0 of 2 is partition 0 of 3"},
		{"out of order", []*Store{three[0], three[2], three[1]}, nil, "store 1 of 3 is partition 2 of 3"},
		{"one-partition store among three", []*Store{one, three[1], three[2]}, nil, "store 0 of 3 is partition 0 of 1"},
		{"configured unlike", []*Store{three[0], mk(Config{MaxLen: 5}, 3, 1), three[2]}, nil, "partition 1 is configured unlike"},
		{"other prefix", []*Store{three[0], three[1], func() *Store {
			s, _ := New(Config{Prefix: "other", Partitions: 3, Partition: 2}, rdb, nil)
			return s
		}()}, nil, "partition 2 is configured unlike"},
		{"fewer pipeliners", three, pipes[:2], "2 pipeliners for 3 partitions"},
		{"nil pipeliner", three, []*Pipeliner{pipes[0], nil, pipes[2]}, "pipeliner 1 is not"},
		{"another partition's pipeliner", three, []*Pipeliner{pipes[0], pipes[2], pipes[1]}, "pipeliner 1 is not"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, err := NewRouter(c.parts, c.pipes)
			if c.want == "" {
				if err != nil || r.Len() != len(c.parts) || r.Part(len(c.parts)-1) != c.parts[len(c.parts)-1] {
					t.Fatalf("NewRouter: %v, %v", r, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("NewRouter: %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestRouterPublishRouting: a single publish on an inbox channel lands in
// its partition only; on a shared channel in every partition, answered
// with partition 0's id and epoch.
func TestRouterPublishRouting(t *testing.T) {
	for _, p := range []int{1, 3} {
		channels := []string{"broadcast", "team:ops"}
		for k := range p {
			channels = append(channels, userIn(k, p, 0))
		}
		for _, channel := range channels {
			t.Run(strconv.Itoa(p)+"/"+channel, func(t *testing.T) {
				r := newTestRouter(t, Config{}, p, nil)
				home, shared := PartitionOf(channel, p)
				if r.PartOf(channel) != r.Part(home) {
					t.Fatalf("PartOf(%q) is not partition %d", channel, home)
				}
				ins := []PublishInput{alarmOn(channel)}
				res, err := r.Publish(testCtx(t), ins[0])
				if err != nil {
					t.Fatal(err)
				}
				checkLogs(t, r, ins, []PublishResult{res}, []error{nil}, func(int) bool { return true }, nil)
				for k := range p {
					if n := len(logOf(t, r.Part(k))); (n == 1) != (shared || k == home) {
						t.Errorf("partition %d holds %d alarms", k, n)
					}
				}
			})
		}
	}
}

// TestRouterSharedInEveryLog: with P partitions a shared alarm is
// appended to each of the P logs, each giving it its own id and epoch;
// the answer, and the listing, are partition 0's. A retry with its
// idempotency key is replayed in every partition.
func TestRouterSharedInEveryLog(t *testing.T) {
	const p = 3
	r := newTestRouter(t, Config{}, p, nil)
	ctx := testCtx(t)
	in := alarmOn("broadcast")
	in.IdempotencyKey = "shared-1"
	res, err := r.Publish(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]protocol.ID, p)
	for k := range p {
		log := logOf(t, r.Part(k))
		if len(log) != 1 || log[0].Channel != "broadcast" {
			t.Fatalf("partition %d: log %v, want the one shared alarm", k, log)
		}
		ids[k] = log[0].ID
		l, err := r.Part(k).ListAlarms(ctx, "broadcast", protocol.Zero, 10)
		if err != nil || len(l.Alarms) != 1 || l.Alarms[0].ID != ids[k] || l.Epoch != epochOf(t, r.Part(k)) {
			t.Fatalf("partition %d: listing %+v, %v; want its own id %s", k, l, err, ids[k])
		}
	}
	if res.ID != ids[0] || res.Epoch != epochOf(t, r.Part(0)) || res.Replayed {
		t.Fatalf("answer %+v, want partition 0's id %s and epoch", res, ids[0])
	}
	l, err := r.ListAlarms(ctx, "broadcast", protocol.Zero, 10)
	if err != nil || len(l.Alarms) != 1 || l.Alarms[0].ID != ids[0] {
		t.Fatalf("router listing %+v, %v; want partition 0's", l, err)
	}
	again, err := r.Publish(ctx, in)
	if err != nil || again.ID != res.ID || !again.Replayed {
		t.Fatalf("retry: %+v, %v; want %s replayed", again, err, res.ID)
	}
	for k := range p {
		if log := logOf(t, r.Part(k)); len(log) != 1 || log[0].ID != ids[k] {
			t.Errorf("partition %d after the retry: %v", k, log)
		}
	}
}

// TestRouterBatch: a batch is split by partition, shared items in every
// sub-batch; every log holds its items in input order, and the answers
// come back aligned with the input, refused items failing alone.
func TestRouterBatch(t *testing.T) {
	big := PublishInput{Channel: "broadcast", Event: "e", Data: json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)}
	noChannel := PublishInput{Channel: "", Event: "e", Data: json.RawMessage(`1`)}
	for _, c := range []struct {
		name string
		p    int
		ins  func(p int) []PublishInput
		want map[int]error // the refused items
	}{
		{"mixed, refused in the middle", 3, func(p int) []PublishInput {
			bad := alarmOn(userIn(0, p, 1))
			bad.Event = ""
			return []PublishInput{alarmOn(userIn(1, p, 0)), alarmOn(userIn(2, p, 0)), alarmOn("broadcast"), bad,
				alarmOn(userIn(0, p, 0)), alarmOn("team:x"), alarmOn(userIn(1, p, 1)), alarmOn(userIn(2, p, 0))}
		}, map[int]error{3: alarm.ErrInvalidEvent}},
		{"refused shared item", 3, func(p int) []PublishInput {
			return []PublishInput{alarmOn(userIn(0, p, 0)), big, alarmOn("broadcast"), alarmOn(userIn(2, p, 0))}
		}, map[int]error{1: ErrTooLarge}},
		{"one partition", 3, func(p int) []PublishInput {
			bad := alarmOn(userIn(1, p, 0))
			bad.IdempotencyKey = "\x01"
			return []PublishInput{alarmOn(userIn(1, p, 0)), bad, alarmOn(userIn(1, p, 1))}
		}, map[int]error{1: alarm.ErrInvalidIdemKey}},
		{"shared only", 3, func(int) []PublishInput {
			return []PublishInput{alarmOn("broadcast"), noChannel, alarmOn("team:x")}
		}, map[int]error{1: alarm.ErrInvalidChannel}},
		{"empty", 3, func(int) []PublishInput { return nil }, nil},
		{"one partition in all, mixed", 1, func(p int) []PublishInput {
			return []PublishInput{alarmOn("user:a"), alarmOn("broadcast"), big, alarmOn("user:b")}
		}, map[int]error{2: ErrTooLarge}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := newTestRouter(t, Config{MaxAlarmBytes: 1024}, c.p, nil)
			ins := c.ins(c.p)
			results, errs := r.PublishBatch(testCtx(t), ins)
			if len(results) != len(ins) || len(errs) != len(ins) {
				t.Fatalf("%d results, %d errors for %d items", len(results), len(errs), len(ins))
			}
			for i, err := range errs {
				if want := c.want[i]; (want == nil) != (err == nil) || !errors.Is(err, want) {
					t.Errorf("item %d: %v, want %v", i, err, want)
				}
				if err != nil && results[i] != (PublishResult{}) {
					t.Errorf("item %d refused with a result %+v", i, results[i])
				}
			}
			checkLogs(t, r, ins, results, errs, func(i int) bool { return errs[i] == nil }, nil)
		})
	}
}

// TestRouterPartitionDown: a partition that fails fails the shared
// publishes (with the first failing partition's error) and its own
// users', while the other partitions' users are served; the partitions
// that were up hold the shared alarms all the same.
func TestRouterPartitionDown(t *testing.T) {
	refused := func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) && !errors.Is(err, redis.ErrClosed) }
	closed := func(err error) bool { return errors.Is(err, redis.ErrClosed) }
	for _, c := range []struct {
		name       string
		down       func(t *testing.T) map[int]redis.UniversalClient
		downErr    map[int]func(error) bool
		sharedFail func(error) bool
	}{
		{"partition 1 refuses", func(t *testing.T) map[int]redis.UniversalClient {
			return map[int]redis.UniversalClient{1: refusedClient(t)}
		}, map[int]func(error) bool{1: refused}, refused},
		{"partitions 1 and 2 fail, differently", func(t *testing.T) map[int]redis.UniversalClient {
			return map[int]redis.UniversalClient{1: refusedClient(t), 2: closedClient(t)}
		}, map[int]func(error) bool{1: refused, 2: closed}, refused},
		{"partition 0 closed", func(t *testing.T) map[int]redis.UniversalClient {
			return map[int]redis.UniversalClient{0: closedClient(t)}
		}, map[int]func(error) bool{0: closed}, closed},
	} {
		t.Run(c.name, func(t *testing.T) {
			const p = 3
			down := c.down(t)
			r := newTestRouter(t, Config{}, p, down)
			ctx := testCtx(t)
			ins := []PublishInput{alarmOn(userIn(0, p, 0)), alarmOn("broadcast"), alarmOn(userIn(1, p, 0)),
				alarmOn(userIn(2, p, 0)), alarmOn("team:x")}
			// want is item i's check: nil, accepted, else its error's.
			want := func(i int) func(error) bool {
				if k, shared := PartitionOf(ins[i].Channel, p); !shared {
					return c.downErr[k]
				}
				return c.sharedFail
			}
			check := func(what string, i int, err error) {
				t.Helper()
				if w := want(i); (w == nil) != (err == nil) || (w != nil && !w(err)) {
					t.Errorf("%s of item %d (%s): %v", what, i, ins[i].Channel, err)
				}
			}
			results, errs := r.PublishBatch(ctx, ins)
			for i, err := range errs {
				check("batch", i, err)
			}
			checkLogs(t, r, ins, results, errs, func(int) bool { return true }, down)
			for i, in := range ins {
				_, err := r.Publish(ctx, in)
				check("publish", i, err)
			}
		})
	}
}

// TestRouterPipes: a single publish of partition k goes through pipes[k]
// (one that is not running never answers); batches go to the stores.
func TestRouterPipes(t *testing.T) {
	for _, p := range []int{1, 3} {
		t.Run(strconv.Itoa(p), func(t *testing.T) {
			parts := newTestParts(t, Config{}, p, nil)
			const stopped = 0 // the partition whose pipeliner does not run
			pipes := make([]*Pipeliner, p)
			for k, s := range parts {
				pipes[k] = s.NewPipeliner(0)
				if k != stopped {
					runPipe(t, pipes[k])
				}
			}
			r, err := NewRouter(parts, pipes)
			if err != nil {
				t.Fatal(err)
			}
			for k := range p {
				ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
				_, err := r.Publish(ctx, alarmOn(userIn(k, p, 0)))
				cancel()
				if got := err != nil; got != (k == stopped) || (got && !errors.Is(err, context.DeadlineExceeded)) {
					t.Errorf("partition %d: %v", k, err)
				}
			}
			if n := len(logOf(t, parts[stopped])); n != 0 {
				t.Fatalf("partition %d holds %d alarms published through its stopped pipeliner", stopped, n)
			}
			ins := []PublishInput{alarmOn(userIn(stopped, p, 0)), alarmOn("broadcast")}
			if _, errs := r.PublishBatch(testCtx(t), ins); errs[0] != nil || errs[1] != nil {
				t.Fatalf("batch: %v", errs)
			}
		})
	}
}

// runPipe runs p until cleanup, which stops it and waits for it.
func runPipe(t *testing.T, p *Pipeliner) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
}

// TestRouterInboxRouting: listings, state changes and inbox reads of an
// inbox go to its partition (the others do not have it); a shared
// channel's listing is partition 0's, and it has no inbox.
func TestRouterInboxRouting(t *testing.T) {
	const p = 3
	r := newTestRouter(t, Config{}, p, nil)
	ctx := testCtx(t)
	for k := range p {
		channel := userIn(k, p, 0)
		t.Run(channel, func(t *testing.T) {
			res, err := r.Publish(ctx, alarmOn(channel))
			if err != nil {
				t.Fatal(err)
			}
			l, err := r.ListAlarms(ctx, channel, protocol.Zero, 10)
			if err != nil || len(l.Alarms) != 1 || l.Alarms[0].ID != res.ID {
				t.Fatalf("listing %+v, %v", l, err)
			}
			in, err := r.ReadInbox(ctx, channel, InboxQuery{})
			if err != nil || len(in.Items) != 1 || in.Items[0].Alarm.ID != res.ID || in.Counts.Unread != 1 {
				t.Fatalf("inbox %+v, %v", in, err)
			}
			st, err := r.ChangeState(ctx, channel, protocol.StateChange{Op: protocol.OpRead, IDs: []string{res.ID.String()}})
			if err != nil || st.Changed != 1 || st.Counts.Unread != 0 {
				t.Fatalf("change %+v, %v", st, err)
			}
			if log := logOf(t, r.Part(k)); log[len(log)-1].ID != st.ID {
				t.Fatalf("state event %s is not partition %d's newest entry", st.ID, k)
			}
			for j := range p {
				in, err := r.Part(j).ReadInbox(ctx, channel, InboxQuery{})
				if err != nil || (len(in.Items) == 1) != (j == k) {
					t.Errorf("partition %d: inbox %+v, %v", j, in, err)
				}
			}
		})
	}
	res, err := r.Publish(ctx, alarmOn("broadcast"))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := r.ListAlarms(ctx, "broadcast", protocol.Zero, 10); err != nil || len(l.Alarms) != 1 || l.Alarms[0].ID != res.ID {
		t.Fatalf("broadcast listing %+v, %v; want partition 0's %s", l, err, res.ID)
	}
	if _, err := r.ReadInbox(ctx, "broadcast", InboxQuery{}); !errors.Is(err, ErrNoInbox) {
		t.Errorf("ReadInbox(broadcast): %v", err)
	}
	if _, err := r.ChangeState(ctx, "team:x", protocol.StateChange{Op: protocol.OpRead, UpTo: res.ID.String()}); !errors.Is(err, ErrNoInbox) {
		t.Errorf("ChangeState(team:x): %v", err)
	}
}

// routed is what a Router and a Store both do.
type routed interface {
	Publish(ctx context.Context, in PublishInput) (PublishResult, error)
	PublishBatch(ctx context.Context, ins []PublishInput) ([]PublishResult, []error)
	ListAlarms(ctx context.Context, channel string, after protocol.ID, limit int) (Listing, error)
	ChangeState(ctx context.Context, channel string, c protocol.StateChange) (StateResult, error)
	ReadInbox(ctx context.Context, channel string, q InboxQuery) (Inbox, error)
	Timeout() time.Duration
}

// TestRouterOnePartition: over one partition the Router answers every
// call exactly as the Store: same results, same errors.
func TestRouterOnePartition(t *testing.T) {
	parts := newTestParts(t, Config{MaxAlarmBytes: 1024}, 1, nil)
	s := parts[0]
	r, err := NewRouter(parts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	keyed := alarmOn("user:1")
	keyed.IdempotencyKey = "k1"
	first, err := s.Publish(ctx, keyed)
	if err != nil {
		t.Fatal(err)
	}
	publishN(t, s, 3, "user:1", "broadcast")
	reused := keyed
	reused.Data = json.RawMessage(`2`)
	badKey := alarmOn("user:1")
	badKey.IdempotencyKey = "\x01"
	big := alarmOn("broadcast")
	big.Data = json.RawMessage(`"` + strings.Repeat("x", 2000) + `"`)
	for _, c := range []struct {
		name string
		call func(x routed) (any, error)
	}{
		{"replay", func(x routed) (any, error) { return x.Publish(ctx, keyed) }},
		{"key reused", func(x routed) (any, error) { return x.Publish(ctx, reused) }},
		{"invalid key", func(x routed) (any, error) { return x.Publish(ctx, badKey) }},
		{"too large", func(x routed) (any, error) { return x.Publish(ctx, big) }},
		{"invalid channel", func(x routed) (any, error) { return x.Publish(ctx, alarmOn("no spaces")) }},
		{"batch", func(x routed) (any, error) {
			res, errs := x.PublishBatch(ctx, []PublishInput{keyed, big, reused, badKey, keyed})
			return res, errors.Join(errs...)
		}},
		{"list", func(x routed) (any, error) { return x.ListAlarms(ctx, "user:1", protocol.Zero, 10) }},
		{"list broadcast", func(x routed) (any, error) { return x.ListAlarms(ctx, "broadcast", first.ID, 1) }},
		{"read inbox", func(x routed) (any, error) { return x.ReadInbox(ctx, "user:1", InboxQuery{Limit: 2}) }},
		{"read no inbox", func(x routed) (any, error) { return x.ReadInbox(ctx, "broadcast", InboxQuery{}) }},
		{"change nothing", func(x routed) (any, error) {
			return x.ChangeState(ctx, "user:1", protocol.StateChange{Op: protocol.OpRead, IDs: []string{"1-1"}})
		}},
		{"invalid change", func(x routed) (any, error) {
			return x.ChangeState(ctx, "user:1", protocol.StateChange{Op: "burn", IDs: []string{"1-1"}})
		}},
		{"timeout", func(x routed) (any, error) { return x.Timeout(), nil }},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, gerr := c.call(r)
			want, werr := c.call(s)
			if !sameJSON(t, got, want) || (gerr == nil) != (werr == nil) || (gerr != nil && gerr.Error() != werr.Error()) {
				t.Fatalf("router: %+v, %v\nstore:  %+v, %v", got, gerr, want, werr)
			}
		})
	}
}

// TestRouterOnePartitionWrites: over one partition the Router writes
// where the Store writes, under {prefix} only.
func TestRouterOnePartitionWrites(t *testing.T) {
	parts := newTestParts(t, Config{}, 1, nil)
	s := parts[0]
	r, err := NewRouter(parts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	publishN(t, s, 2, "user:1", "broadcast")
	res, err := r.Publish(ctx, alarmOn("team:x"))
	if err != nil {
		t.Fatal(err)
	}
	results, errs := r.PublishBatch(ctx, []PublishInput{alarmOn("user:2"), alarmOn("broadcast")})
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	log := logOf(t, s)
	if got := entryIDs(log[len(log)-3:]); !slices.Equal(got, []protocol.ID{res.ID, results[0].ID, results[1].ID}) {
		t.Fatalf("the store's newest entries %v, want the router's %v %v", got, res, results)
	}
	if keys, err := s.rdb.Keys(ctx, "{"+s.cfg.Prefix+"/*").Result(); err != nil || len(keys) != 0 {
		t.Fatalf("partitioned keys %v, %v", keys, err)
	}
}

// sameJSON reports whether a and b encode alike.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := json.Marshal(b)
	if err != nil {
		t.Fatal(err)
	}
	return string(ja) == string(jb)
}

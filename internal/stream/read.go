package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// maxID is the greatest stream id; nothing can follow it.
var maxID = protocol.ID{MS: ^uint64(0), Seq: ^uint64(0)}

// Tip is the head of the log: the newest id in the stream (Zero when the
// stream is empty or missing) and the epoch ("" when the key is absent).
type Tip struct {
	Newest protocol.ID
	Epoch  string
}

// Range returns up to count entries with id > after, oldest first
// (XRANGE key (after + COUNT count). count <= 0 means PageSize. Entries
// that this package did not write are skipped and logged.
func (s *Store) Range(ctx context.Context, after protocol.ID, count int64) ([]alarm.Entry, error) {
	if count <= 0 {
		count = s.cfg.PageSize
	}
	if after == maxID {
		return nil, nil
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	msgs, err := s.rdb.XRangeN(ctx, s.keys.stream, "("+after.String(), "+", count).Result()
	if err != nil {
		return nil, wrapErr("range", err)
	}
	return s.toEntries(msgs, nil), nil
}

// Tip reads the newest id (XREVRANGE + - COUNT 1) and the epoch in one
// round trip. The newest id is the newest entry's, alarm or not.
func (s *Store) Tip(ctx context.Context) (Tip, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	last := pipe.XRevRangeN(ctx, s.keys.stream, "+", "-", 1)
	ep := pipe.Get(ctx, s.keys.epoch)
	clock := pipe.Time(ctx)
	sent := time.Now()
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	if now, err := clock.Result(); err == nil {
		s.observeClock(now, sent, time.Now())
	}
	msgs, err := last.Result()
	if err != nil {
		return Tip{}, wrapErr("tip", err)
	}
	epoch, err := readEpoch(ep)
	if err != nil {
		return Tip{}, wrapErr("tip", err)
	}
	tip := Tip{Epoch: epoch}
	if len(msgs) > 0 {
		// The newest entry, whether or not it is an alarm: an entry
		// someone else wrote is not a rollback.
		if tip.Newest, err = protocol.ParseID(msgs[0].ID); err != nil {
			return Tip{}, fmt.Errorf("stream: tip: stream id %q: %w", msgs[0].ID, err)
		}
	}
	return tip, nil
}

// LoadWindow loads the newest n entries of the stream, oldest first, with
// paged XREVRANGE reads of PageSize, and reports evicted: every id > evicted
// that is in the stream (up to tip.Newest) is in entries; ids <= evicted may
// be gone. evicted is Zero only when nothing was ever removed from the
// stream (XINFO STREAM entries-added == length) and all of it fits in n.
// Otherwise it is entries[0].ID.Prev(), or for an empty window the stream's
// last-generated-id (which may exceed tip.Newest when alarms arrive during
// the load; that only errs on the safe side). Without the Redis 7 XINFO
// fields (miniredis, older servers) it assumes trimming happened.
// tip.Newest is the last entry's id (Zero if none) and tip.Epoch the epoch.
func (s *Store) LoadWindow(ctx context.Context, n int) (entries []alarm.Entry, evicted protocol.ID, tip Tip, err error) {
	if n < 0 {
		n = 0
	}
	entries, fits, err := s.loadNewest(ctx, n)
	if err != nil {
		return nil, protocol.Zero, Tip{}, err
	}
	// XINFO after the reads: trimming only moves forward, so what it says
	// about removals covers everything the reads might have missed.
	info, epoch, err := s.infoAndEpoch(ctx)
	if err != nil {
		return nil, protocol.Zero, Tip{}, err // "stream: load window: <step>: ..."
	}
	tip = Tip{Epoch: epoch}
	if len(entries) > 0 {
		tip.Newest = entries[len(entries)-1].ID
	}
	switch {
	case len(entries) > 0 && !fits:
		evicted = entries[0].ID.Prev()
	case len(entries) > 0:
		evicted = info.evictedBefore(entries[0].ID, true)
	case n == 0:
		evicted = info.lastGenerated
	default:
		evicted = info.evictedBefore(protocol.Zero, false)
	}
	return entries, evicted, tip, nil
}

// loadNewest pages backwards from the newest entry until it holds n
// entries or reaches the start. fits reports that it reached the start.
func (s *Store) loadNewest(ctx context.Context, n int) (entries []alarm.Entry, fits bool, err error) {
	if n == 0 {
		return nil, false, nil
	}
	want := int64(n) + 1 // one extra entry tells whether the stream is longer than n
	var desc []alarm.Entry
	end := "+"
	for int64(len(desc)) < want {
		count := min(s.cfg.PageSize, want-int64(len(desc)))
		msgs, err := s.revPage(ctx, end, count)
		if err != nil {
			return nil, false, err
		}
		if len(msgs) == 0 {
			break
		}
		desc = s.toEntries(msgs, desc)
		end = "(" + msgs[len(msgs)-1].ID
		if int64(len(msgs)) < count {
			break
		}
	}
	fits = int64(len(desc)) < want
	if !fits {
		desc = desc[:n]
	}
	slices.Reverse(desc)
	return desc, fits, nil
}

func (s *Store) revPage(ctx context.Context, end string, count int64) ([]redis.XMessage, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	msgs, err := s.rdb.XRevRangeN(ctx, s.keys.stream, end, "-", count).Result()
	if err != nil {
		return nil, wrapErr("load window", err)
	}
	return msgs, nil
}

// toEntries appends the alarms among msgs to dst, skipping (and logging)
// entries without a valid id, channel field c or tail field t.
func (s *Store) toEntries(msgs []redis.XMessage, dst []alarm.Entry) []alarm.Entry {
	for _, m := range msgs {
		e, ok := toEntry(m)
		if !ok {
			s.log.Warn("stream: skipping malformed stream entry", "key", s.keys.stream, "id", m.ID)
			continue
		}
		dst = append(dst, e)
	}
	return dst
}

func toEntry(m redis.XMessage) (alarm.Entry, bool) {
	id, err := protocol.ParseID(m.ID)
	if err != nil || len(m.Values) != fieldCount(m) {
		return alarm.Entry{}, false
	}
	c, ok1 := m.Values["c"].(string)
	t, ok2 := m.Values["t"].(string)
	if !ok1 || !ok2 || !alarm.ValidChannel(c) || !validTail(t, c) {
		return alarm.Entry{}, false
	}
	return alarm.NewEntry(id, c, []byte(t)), true
}

// validTail reports whether t looks like what EncodeTail (or state.lua,
// after the type name that starts a state event's tail) makes for channel:
// anything else (invalid UTF-8 included) would break the frames clients
// parse.
func validTail(t, channel string) bool {
	if !alarm.ValidTailType(t) {
		return false
	}
	t = t[strings.IndexByte(t, ','):]
	return utf8.ValidString(t) && strings.HasPrefix(t, `,"channel":"`+channel+`"`) &&
		strings.HasSuffix(t, "}") && strings.IndexByte(t, '\n') < 0
}

func readEpoch(cmd *redis.StringCmd) (string, error) {
	v, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return v, err
}

// fieldCount is how many fields an entry the scripts wrote has: c and t,
// and the predecessor p unless m has none (entries written before p
// existed).
func fieldCount(m redis.XMessage) int {
	if _, ok := m.Values["p"].(string); ok {
		return 3
	}
	return 2
}

// redisMS returns t, a time on this node's clock, in unix ms on Redis'
// clock (as the last Tip measured the offset): the scripts compare
// deadlines with TIME. A zero t (no deadline) is 0, as the scripts take it.
func (s *Store) redisMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Add(time.Duration(s.skew.Load())).UnixMilli()
}

// maxSkew is the clock offset between a node and Redis above which the
// node warns: its publish and state-change deadlines are corrected by it
// either way.
const maxSkew = time.Second

// observeClock records Redis' clock, read as redisNow between sent and
// got on this node's clock, as the offset deadlines are moved by (redisMS),
// and warns when it grows past maxSkew.
func (s *Store) observeClock(redisNow, sent, got time.Time) {
	skew := redisNow.Sub(sent.Add(got.Sub(sent) / 2))
	old := time.Duration(s.skew.Swap(int64(skew)))
	if skew.Abs() > maxSkew && old.Abs() <= maxSkew {
		s.log.Warn("stream: Redis' clock differs from this node's; deadlines are corrected by the difference",
			"skew", skew.Round(time.Millisecond))
	}
}

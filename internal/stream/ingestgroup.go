package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// ErrNoGroup reports that the ingest consumer group does not exist (the
// stream was deleted, or the group was never created): NOGROUP.
var ErrNoGroup = errors.New("stream: no such consumer group")

// IngestEntry is one entry of the ingest stream: its id and its fields in
// the order XADD gave them. A name given twice is there twice (go-redis'
// own parsing keeps only the last), so a reader can refuse it.
type IngestEntry struct {
	ID     string
	Fields []IngestField
}

// IngestField is one field of an entry.
type IngestField struct {
	Name, Value string
}

// IngestFields are the fields of an entry to append, in XADD order: name,
// value, name, value, ...
type IngestFields []any

// IngestPending is one entry pending in the group: delivered to Consumer
// Idle ago and not acknowledged.
type IngestPending struct {
	ID       string
	Consumer string
	Idle     time.Duration
}

// IngestGroupInfo is the group's XINFO GROUPS entry.
type IngestGroupInfo struct {
	// LastDelivered is the id of the last entry delivered to the group.
	LastDelivered string
	// Lag is how many entries the group has not read yet; negative when
	// Redis cannot tell (after some deletions, or before Redis 7).
	Lag int64
	// Pending is how many delivered entries are not acknowledged.
	Pending int64
}

// IngestConsumer is one consumer of the group and its pending count.
type IngestConsumer struct {
	Name    string
	Pending int64
}

// IngestGroup is the Redis side of the ingest stream {prefix}:ingest
// consumed by one consumer group: reads, claims, acknowledgements,
// dead letters, trimming and the consumer lease (ingestlease.go); its
// scripts and the decoding of raw entries are in ingestreply.go.
// internal/ingest is the logic over it. Every method is bounded by the
// deadline of its ctx, which the caller sets (a lease holder's calls end
// with its lease). It is safe for concurrent use.
type IngestGroup struct {
	rdb        redis.UniversalClient
	keys       IngestKeys
	prefix     string // Config.Prefix: names the other partitions' keys (Settle)
	partitions int    // Config.Partitions
	partition  int    // Config.Partition: whose ingest stream this is
	group      string
	deadMaxLen int64
	renew      *redis.Script
	release    *redis.Script
	settle     *redis.Script
	delete     *redis.Script

	tagsMu sync.Mutex
	tags   map[int]IngestKeys // guarded by tagsMu; partition -> its ingest keys, filled by keysOf
}

// IngestGroup returns the commands of the consumer group name on the
// store's ingest stream. Dead letters are capped at deadMaxLen entries
// (XADD MAXLEN ~).
func (s *Store) IngestGroup(name string, deadMaxLen int64) *IngestGroup {
	return &IngestGroup{rdb: s.rdb, keys: s.keys.ingest, group: name, deadMaxLen: deadMaxLen,
		prefix: s.cfg.Prefix, partitions: s.cfg.Partitions, partition: s.cfg.Partition,
		renew: redis.NewScript(renewLeaseLua), release: redis.NewScript(releaseLeaseLua),
		settle: redis.NewScript(settleLua), delete: redis.NewScript(deleteConsumerLua)}
}

// Keys returns the keys of the ingest stream.
func (g *IngestGroup) Keys() IngestKeys { return g.keys }

// Name returns the group's name.
func (g *IngestGroup) Name() string { return g.group }

// Partition returns the partition whose ingest stream this is and the
// number of partitions of the deployment (the Store's).
func (g *IngestGroup) Partition() (k, partitions int) { return g.partition, g.partitions }

// groupErr wraps the error of a group command: NOGROUP also wraps
// ErrNoGroup.
func groupErr(op string, err error) error {
	if redis.HasErrorPrefix(err, "NOGROUP") {
		return fmt.Errorf("stream: %s: %w: %w", op, ErrNoGroup, err)
	}
	return wrapErr(op, err)
}

// Create creates the group at the start of the stream (id 0, so entries
// appended while no gateway ran are consumed), creating the stream too;
// an existing group is fine.
func (g *IngestGroup) Create(ctx context.Context) error {
	err := g.rdb.XGroupCreateMkStream(ctx, g.keys.Stream, g.group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return wrapErr(fmt.Sprintf("XGROUP CREATE %s %s", g.keys.Stream, g.group), err)
	}
	return nil
}

// Pending returns up to count entries pending in the group, oldest first.
func (g *IngestGroup) Pending(ctx context.Context, count int64) ([]IngestPending, error) {
	pend, err := g.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: g.keys.Stream, Group: g.group, Start: "-", End: "+", Count: count,
	}).Result()
	if err != nil {
		return nil, groupErr("XPENDING", err)
	}
	out := make([]IngestPending, len(pend))
	for i, p := range pend {
		out[i] = IngestPending{ID: p.ID, Consumer: p.Consumer, Idle: p.Idle}
	}
	return out, nil
}

// Claim makes consumer the owner of the pending entries ids and returns
// those still in the stream (an entry deleted while pending is missing).
func (g *IngestGroup) Claim(ctx context.Context, consumer string, ids []string) ([]IngestEntry, error) {
	args := make([]any, 0, 5+len(ids))
	args = append(args, "XCLAIM", g.keys.Stream, g.group, consumer, 0)
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := g.rdb.Do(ctx, args...).Result()
	if err != nil {
		return nil, groupErr("XCLAIM", err)
	}
	out, err := parseEntries(res)
	if err != nil {
		return nil, fmt.Errorf("stream: XCLAIM: %w", err)
	}
	return out, nil
}

// Ack acknowledges ids.
func (g *IngestGroup) Ack(ctx context.Context, ids ...string) error {
	if err := g.rdb.XAck(ctx, g.keys.Stream, g.group, ids...).Err(); err != nil {
		return groupErr("XACK", err)
	}
	return nil
}

// ReadNew reads up to count entries never delivered to the group, as
// consumer, blocking up to block when there are none (nil, nil then).
// Entries already there are read at once, with their fields as given
// (parseEntries); only a read that had to wait takes a second round trip
// (a blocked XREADGROUP goes through go-redis' own command, which gives
// its read the block's time, and its entries are read again with XRANGE).
func (g *IngestGroup) ReadNew(ctx context.Context, consumer string, count int64, block time.Duration) ([]IngestEntry, error) {
	res, err := g.rdb.Do(ctx, "XREADGROUP", "GROUP", g.group, consumer, "COUNT", count,
		"STREAMS", g.keys.Stream, ">").Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, groupErr("XREADGROUP", err)
	}
	if err == nil {
		out, err := parseRead(res)
		if err != nil || len(out) > 0 {
			return out, err
		}
	}
	got, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: g.group, Consumer: consumer, Streams: []string{g.keys.Stream, ">"},
		Count: count, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, groupErr("XREADGROUP", err)
	}
	if len(got) == 0 || len(got[0].Messages) == 0 {
		return nil, nil
	}
	return g.reread(ctx, got[0].Messages)
}

// reread reads msgs (delivered to this consumer just now) again, with
// their fields as given. An entry deleted in between stays pending, to be
// acknowledged by the claim that finds it gone.
func (g *IngestGroup) reread(ctx context.Context, msgs []redis.XMessage) ([]IngestEntry, error) {
	res, err := g.rdb.Do(ctx, "XRANGE", g.keys.Stream, msgs[0].ID, msgs[len(msgs)-1].ID, "COUNT", len(msgs)).Result()
	if err != nil {
		return nil, wrapErr("XRANGE", err)
	}
	all, err := parseEntries(res)
	if err != nil {
		return nil, fmt.Errorf("stream: XRANGE: %w", err)
	}
	delivered := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		delivered[m.ID] = true
	}
	out := all[:0]
	for _, e := range all {
		if delivered[e.ID] {
			out = append(out, e)
		}
	}
	return out, nil
}

// Info returns the group's XINFO GROUPS entry.
func (g *IngestGroup) Info(ctx context.Context) (IngestGroupInfo, error) {
	gs, err := g.rdb.XInfoGroups(ctx, g.keys.Stream).Result()
	if err != nil {
		return IngestGroupInfo{}, wrapErr("XINFO GROUPS", err)
	}
	for _, x := range gs {
		if x.Name == g.group {
			return IngestGroupInfo{LastDelivered: x.LastDeliveredID, Lag: x.Lag, Pending: x.Pending}, nil
		}
	}
	return IngestGroupInfo{}, fmt.Errorf("stream: XINFO GROUPS: %w: %s", ErrNoGroup, g.group)
}

// CountAfter counts the entries after id, at most limit (XRANGE).
func (g *IngestGroup) CountAfter(ctx context.Context, id string, limit int64) (int64, error) {
	n, err := g.rdb.XRangeN(ctx, g.keys.Stream, "("+id, "+", limit).Result()
	if err != nil {
		return 0, wrapErr("XRANGE", err)
	}
	return int64(len(n)), nil
}

// OldestPending returns the id of the oldest entry pending in the group
// ("" when none is).
func (g *IngestGroup) OldestPending(ctx context.Context) (string, error) {
	p, err := g.rdb.XPending(ctx, g.keys.Stream, g.group).Result()
	if err != nil {
		return "", groupErr("XPENDING", err)
	}
	return p.Lower, nil
}

// TrimBelow removes the entries with ids below minID (XTRIM MINID, exact).
func (g *IngestGroup) TrimBelow(ctx context.Context, minID string) error {
	if err := g.rdb.XTrimMinID(ctx, g.keys.Stream, minID).Err(); err != nil {
		return wrapErr("XTRIM", err)
	}
	return nil
}

// Consumers returns the group's consumers.
func (g *IngestGroup) Consumers(ctx context.Context) ([]IngestConsumer, error) {
	cs, err := g.rdb.XInfoConsumers(ctx, g.keys.Stream, g.group).Result()
	if err != nil {
		return nil, groupErr("XINFO CONSUMERS", err)
	}
	out := make([]IngestConsumer, len(cs))
	for i, c := range cs {
		out[i] = IngestConsumer{Name: c.Name, Pending: c.Pending}
	}
	return out, nil
}

// DeleteConsumer removes consumer name from the group if nothing is
// pending on it, and reports whether it did. The check and the removal
// are one script: XGROUP DELCONSUMER drops the consumer's pending
// entries, so an entry delivered to it after a look at XINFO CONSUMERS
// (a stale holder's last read) would be lost for good.
func (g *IngestGroup) DeleteConsumer(ctx context.Context, name string) (bool, error) {
	n, err := g.delete.Run(ctx, g.rdb, []string{g.keys.Stream}, g.group, name).Int64()
	if err != nil {
		return false, groupErr("XGROUP DELCONSUMER", err)
	}
	return n >= 0, nil
}

// Add appends an entry to the ingest stream.
func (g *IngestGroup) Add(ctx context.Context, f IngestFields) error {
	if err := g.rdb.XAdd(ctx, &redis.XAddArgs{Stream: g.keys.Stream, Values: []any(f)}).Err(); err != nil {
		return wrapErr("XADD", err)
	}
	return nil
}

// AddDead appends an entry to the dead-letter stream.
func (g *IngestGroup) AddDead(ctx context.Context, f IngestFields) error {
	if err := g.rdb.XAdd(ctx, g.deadArgs(f)).Err(); err != nil {
		return wrapErr("XADD dead letter", err)
	}
	return nil
}

func (g *IngestGroup) deadArgs(f IngestFields) *redis.XAddArgs {
	return &redis.XAddArgs{Stream: g.keys.Dead, MaxLen: g.deadMaxLen, Approx: true, Values: []any(f)}
}

// Settle appends dead to the dead-letter stream, then acknowledges those
// of ack that are still pending on consumer and deletes their entry
// idempotency records: once acknowledged, an entry is never delivered
// again, so its record has served. A dead letter is written before its
// ack, so a crash between them writes it twice, never loses it. An entry
// claimed by another consumer meanwhile (this one is a stale holder) is
// left to it, record and all.
//
// With one partition the records ({prefix}:iidem:<id>, beside the stream)
// are deleted by the script that acknowledges. With more, an entry's
// record is in the partition of the channel its alarm was published on
// (IngestAck.Channel; every partition for a shared channel), another
// slot: it is deleted after the acknowledgement, never before (a record
// deleted while its entry is pending would let a re-claim append it
// again). When that deletion fails the entries are acknowledged and the
// error wraps ErrRecordsLeft: the records expire after IdemTTL.
func (g *IngestGroup) Settle(ctx context.Context, consumer string, dead []IngestFields, ack []IngestAck) error {
	if len(dead) > 0 {
		pipe := g.rdb.Pipeline()
		for _, f := range dead {
			pipe.XAdd(ctx, g.deadArgs(f))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return wrapErr("XADD dead letters", err)
		}
	}
	if len(ack) == 0 {
		return nil
	}
	keys := make([]string, 1, 1+len(ack))
	keys[0] = g.keys.Stream
	args := make([]any, 4, 4+len(ack))
	args[0], args[1] = g.group, consumer
	ids := make([]string, len(ack))
	for i, a := range ack {
		ids[i] = a.ID
		args = append(args, a.ID)
		if g.partitions <= 1 {
			keys = append(keys, g.keys.entryIdem(g.partitions, g.partition, a.ID))
		}
	}
	args[2], args[3] = idRange(ids)
	acked, err := g.settle.Run(ctx, g.rdb, keys, args...).StringSlice()
	if err != nil && !errors.Is(err, redis.Nil) {
		return groupErr("XACK", err)
	}
	if g.partitions <= 1 {
		return nil
	}
	return g.deleteRecords(ctx, acked, ack)
}

// idRange returns the lowest and the highest of ids, stream ids as
// Redis gave them.
func idRange(ids []string) (lo, hi string) {
	var l, h protocol.ID
	for i, s := range ids {
		id, err := protocol.ParseID(s)
		if err != nil {
			return "-", "+" // cannot happen; the whole range then
		}
		if i == 0 || id.Compare(l) < 0 {
			l, lo = id, s
		}
		if i == 0 || id.Compare(h) > 0 {
			h, hi = id, s
		}
	}
	return lo, hi
}

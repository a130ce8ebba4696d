package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNoGroup reports that the ingest consumer group does not exist (the
// stream was deleted, or the group was never created): NOGROUP.
var ErrNoGroup = errors.New("stream: no such consumer group")

// IngestEntry is one entry of the ingest stream: its id and its fields.
// A field's value is a string, as Redis stores it.
type IngestEntry struct {
	ID     string
	Values map[string]any
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
// dead letters, trimming and the consumer lease (ingestlease.go).
// internal/ingest is the logic over it. Every method is bounded by the
// deadline of its ctx, which the caller sets (a lease holder's calls end
// with its lease). It is safe for concurrent use.
type IngestGroup struct {
	rdb        redis.UniversalClient
	keys       IngestKeys
	group      string
	deadMaxLen int64
	renew      *redis.Script
	release    *redis.Script
}

// IngestGroup returns the commands of the consumer group name on the
// store's ingest stream. Dead letters are capped at deadMaxLen entries
// (XADD MAXLEN ~).
func (s *Store) IngestGroup(name string, deadMaxLen int64) *IngestGroup {
	return &IngestGroup{rdb: s.rdb, keys: s.keys.ingest, group: name, deadMaxLen: deadMaxLen,
		renew: redis.NewScript(renewLeaseLua), release: redis.NewScript(releaseLeaseLua)}
}

// Keys returns the keys of the ingest stream.
func (g *IngestGroup) Keys() IngestKeys { return g.keys }

// Name returns the group's name.
func (g *IngestGroup) Name() string { return g.group }

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
	msgs, err := g.rdb.XClaim(ctx, &redis.XClaimArgs{
		Stream: g.keys.Stream, Group: g.group, Consumer: consumer, Messages: ids,
	}).Result()
	if err != nil {
		return nil, groupErr("XCLAIM", err)
	}
	return entries(msgs), nil
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
func (g *IngestGroup) ReadNew(ctx context.Context, consumer string, count int64, block time.Duration) ([]IngestEntry, error) {
	res, err := g.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
		Group: g.group, Consumer: consumer, Streams: []string{g.keys.Stream, ">"},
		Count: count, Block: block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, groupErr("XREADGROUP", err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	return entries(res[0].Messages), nil
}

// entries converts go-redis messages.
func entries(msgs []redis.XMessage) []IngestEntry {
	out := make([]IngestEntry, len(msgs))
	for i, m := range msgs {
		out[i] = IngestEntry{ID: m.ID, Values: m.Values}
	}
	return out
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

// DeleteConsumer removes consumer name from the group.
func (g *IngestGroup) DeleteConsumer(ctx context.Context, name string) error {
	if err := g.rdb.XGroupDelConsumer(ctx, g.keys.Stream, g.group, name).Err(); err != nil {
		return groupErr("XGROUP DELCONSUMER", err)
	}
	return nil
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

// Settle appends dead to the dead-letter stream, then acknowledges ack,
// in one pipeline: a dead letter is written before its ack, so a crash
// between them writes it twice, never loses it.
func (g *IngestGroup) Settle(ctx context.Context, dead []IngestFields, ack []string) error {
	pipe := g.rdb.Pipeline()
	for _, f := range dead {
		pipe.XAdd(ctx, g.deadArgs(f))
	}
	pipe.XAck(ctx, g.keys.Stream, g.group, ack...)
	if _, err := pipe.Exec(ctx); err != nil {
		return groupErr("dead letters and XACK", err)
	}
	return nil
}

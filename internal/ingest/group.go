package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// maxLagCount bounds the XRANGE that counts the lag when Redis cannot
// report it (XINFO GROUPS lag is null after some deletions, absent
// before Redis 7).
const maxLagCount = 100000

// ensureGroup creates the group at the start of the stream (id 0, so
// entries appended while no gateway ran are consumed), creating the stream
// too; an existing group is fine.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	cctx, cancel := c.callCtx(ctx, 0)
	defer cancel()
	err := c.rdb.XGroupCreateMkStream(cctx, c.keys.Stream, c.cfg.Group, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("ingest: XGROUP CREATE %s %s: %w", c.keys.Stream, c.cfg.Group, err)
	}
	return nil
}

// leaseCtx bounds a call by the store's timeout plus extra and by the
// lease: a holder's reads, claims and publishes end before its lease
// does.
func (c *Consumer) leaseCtx(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	d := c.now().Add(c.store.Timeout() + extra)
	if l := c.lease.deadline(); l.Before(d) {
		d = l
	}
	return context.WithDeadline(ctx, d)
}

// groupErr notes a vanished group (the stream was deleted) so that
// maintain creates it again, and wraps err.
func (c *Consumer) groupErr(op string, err error) error {
	if redis.HasErrorPrefix(err, "NOGROUP") {
		c.groupOK = false
	}
	return fmt.Errorf("ingest: %s: %w", op, err)
}

// claimPending takes over the entries pending in the group, in id order:
// its own (left by an earlier run of this node, or by a failed publish)
// at once, other consumers' once idle for ClaimIdle. It stops at the
// first entry it may not take yet, so nothing overtakes an older entry,
// and returns errWait when that is the first. nil, nil: nothing pending.
func (c *Consumer) claimPending(ctx context.Context) ([]redis.XMessage, error) {
	cctx, cancel := c.leaseCtx(ctx, 0)
	defer cancel()
	pend, err := c.rdb.XPendingExt(cctx, &redis.XPendingExtArgs{
		Stream: c.keys.Stream, Group: c.cfg.Group, Start: "-", End: "+", Count: c.cfg.BatchSize,
	}).Result()
	if err != nil {
		return nil, c.groupErr("XPENDING", err)
	}
	if len(pend) == 0 {
		return nil, nil
	}
	ids := make([]string, 0, len(pend))
	others := 0
	for _, p := range pend {
		if p.Consumer != c.cfg.NodeID && p.Idle < c.cfg.ClaimIdle {
			break
		}
		if p.Consumer != c.cfg.NodeID {
			others++
		}
		ids = append(ids, p.ID)
	}
	if len(ids) == 0 {
		return nil, errWait
	}
	msgs, err := c.rdb.XClaim(cctx, &redis.XClaimArgs{
		Stream: c.keys.Stream, Group: c.cfg.Group, Consumer: c.cfg.NodeID, Messages: ids,
	}).Result()
	if err != nil {
		return nil, c.groupErr("XCLAIM", err)
	}
	if others > 0 {
		c.m.Claimed.Add(float64(others))
		c.log.Info("ingest: claimed entries of another consumer", "entries", others, "from", ids[0])
	}
	if gone := missing(ids, msgs); len(gone) > 0 {
		// Deleted from the stream while pending: nothing to publish.
		if err := c.rdb.XAck(cctx, c.keys.Stream, c.cfg.Group, gone...).Err(); err != nil {
			return nil, c.groupErr("XACK", err)
		}
	}
	if msgs == nil {
		msgs = []redis.XMessage{}
	}
	return msgs, nil
}

// missing returns the ids XCLAIM did not return (deleted entries).
func missing(ids []string, msgs []redis.XMessage) []string {
	have := make(map[string]bool, len(msgs))
	for _, m := range msgs {
		have[m.ID] = true
	}
	var out []string
	for _, id := range ids {
		if !have[id] {
			out = append(out, id)
		}
	}
	return out
}

// readNew reads up to BatchSize new entries, blocking up to Block.
func (c *Consumer) readNew(ctx context.Context) ([]redis.XMessage, error) {
	cctx, cancel := c.leaseCtx(ctx, c.cfg.Block)
	defer cancel()
	res, err := c.rdb.XReadGroup(cctx, &redis.XReadGroupArgs{
		Group: c.cfg.Group, Consumer: c.cfg.NodeID, Streams: []string{c.keys.Stream, ">"},
		Count: c.cfg.BatchSize, Block: c.cfg.Block,
	}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, c.groupErr("XREADGROUP", err)
	}
	if len(res) == 0 {
		return nil, nil
	}
	return res[0].Messages, nil
}

// groupInfo returns the group's XINFO GROUPS entry.
func (c *Consumer) groupInfo(ctx context.Context) (redis.XInfoGroup, error) {
	gs, err := c.rdb.XInfoGroups(ctx, c.keys.Stream).Result()
	if err != nil {
		return redis.XInfoGroup{}, fmt.Errorf("ingest: XINFO GROUPS: %w", err)
	}
	for _, g := range gs {
		if g.Name == c.cfg.Group {
			return g, nil
		}
	}
	return redis.XInfoGroup{}, fmt.Errorf("ingest: group %s not found", c.cfg.Group)
}

// sampleStats sets the lag and pending gauges.
func (c *Consumer) sampleStats(ctx context.Context) error {
	cctx, cancel := c.callCtx(ctx, 0)
	defer cancel()
	g, err := c.groupInfo(cctx)
	if err != nil {
		return err
	}
	lag := g.Lag
	if lag < 0 {
		n, err := c.rdb.XRangeN(cctx, c.keys.Stream, "("+g.LastDeliveredID, "+", maxLagCount).Result()
		if err != nil {
			return fmt.Errorf("ingest: counting the lag: %w", err)
		}
		lag = int64(len(n))
	}
	c.m.Lag.Set(float64(lag))
	c.m.Pending.Set(float64(g.Pending))
	return nil
}

// trim removes the entries the group has acknowledged: everything below
// the oldest pending entry, or up to the last delivered one when nothing
// is pending (XTRIM MINID keeps the threshold itself). Only the holder
// reads, and it trims between its own reads, so the threshold cannot
// move under it. It also removes consumers of earlier holders that have
// nothing pending (each restart with a new node id leaves one).
func (c *Consumer) trim(ctx context.Context) error {
	cctx, cancel := c.leaseCtx(ctx, 0)
	defer cancel()
	g, err := c.groupInfo(cctx)
	if err != nil {
		return err
	}
	threshold := g.LastDeliveredID
	if g.Pending > 0 {
		p, err := c.rdb.XPending(cctx, c.keys.Stream, c.cfg.Group).Result()
		if err != nil {
			return fmt.Errorf("ingest: XPENDING: %w", err)
		}
		threshold = p.Lower
	}
	if threshold == "" || threshold == "0-0" {
		return nil
	}
	if err := c.rdb.XTrimMinID(cctx, c.keys.Stream, threshold).Err(); err != nil {
		return fmt.Errorf("ingest: XTRIM: %w", err)
	}
	cs, err := c.rdb.XInfoConsumers(cctx, c.keys.Stream, c.cfg.Group).Result()
	if err != nil {
		return fmt.Errorf("ingest: XINFO CONSUMERS: %w", err)
	}
	for _, x := range cs {
		if x.Name != c.cfg.NodeID && x.Pending == 0 {
			if err := c.rdb.XGroupDelConsumer(cctx, c.keys.Stream, c.cfg.Group, x.Name).Err(); err != nil {
				return fmt.Errorf("ingest: XGROUP DELCONSUMER: %w", err)
			}
		}
	}
	return nil
}

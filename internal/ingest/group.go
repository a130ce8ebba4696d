package ingest

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// maxLagCount bounds the XRANGE that counts the lag when Redis cannot
// report it (XINFO GROUPS lag is null after some deletions, absent
// before Redis 7).
const maxLagCount = 100000

// ensureGroup creates the group at the start of the stream (id 0, so entries
// appended while no gateway ran are consumed), creating the stream too;
// an existing group is fine.
func (c *Consumer) ensureGroup(ctx context.Context) error {
	cctx, cancel := c.callCtx(ctx, 0)
	defer cancel()
	return c.group.Create(cctx)
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
// maintain creates it again, and returns err.
func (c *Consumer) groupErr(err error) error {
	if errors.Is(err, stream.ErrNoGroup) {
		c.groupOK = false
	}
	return err
}

// claimPending takes over the entries pending in the group, in id order:
// its own (left by an earlier run of this node, or by a failed publish)
// at once, other consumers' once idle for ClaimIdle. It stops at the
// first entry it may not take yet, so nothing overtakes an older entry,
// and returns errWait when that is the first. nil, nil: nothing pending.
func (c *Consumer) claimPending(ctx context.Context) ([]stream.IngestEntry, error) {
	cctx, cancel := c.leaseCtx(ctx, 0)
	defer cancel()
	pend, err := c.group.Pending(cctx, c.cfg.BatchSize)
	if err != nil {
		return nil, c.groupErr(err)
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
	msgs, err := c.group.Claim(cctx, c.cfg.NodeID, ids)
	if err != nil {
		return nil, c.groupErr(err)
	}
	if others > 0 {
		c.m.Claimed.Add(float64(others))
		c.log.Info("ingest: claimed entries of another consumer", "entries", others, "from", ids[0])
	}
	if gone := missing(ids, msgs); len(gone) > 0 {
		// Deleted from the stream while pending: nothing to publish.
		if err := c.group.Ack(cctx, gone...); err != nil {
			return nil, c.groupErr(err)
		}
	}
	return msgs, nil
}

// missing returns the ids XCLAIM did not return (deleted entries).
func missing(ids []string, msgs []stream.IngestEntry) []string {
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
func (c *Consumer) readNew(ctx context.Context) ([]stream.IngestEntry, error) {
	cctx, cancel := c.leaseCtx(ctx, c.cfg.Block)
	defer cancel()
	msgs, err := c.group.ReadNew(cctx, c.cfg.NodeID, c.cfg.BatchSize, c.cfg.Block)
	if err != nil {
		return nil, c.groupErr(err)
	}
	return msgs, nil
}

// sampleStats sets the lag and pending gauges.
func (c *Consumer) sampleStats(ctx context.Context) error {
	cctx, cancel := c.callCtx(ctx, 0)
	defer cancel()
	g, err := c.group.Info(cctx)
	if err != nil {
		return err
	}
	lag := g.Lag
	if lag < 0 {
		if lag, err = c.group.CountAfter(cctx, g.LastDelivered, maxLagCount); err != nil {
			return fmt.Errorf("ingest: counting the lag: %w", err)
		}
	}
	c.lag.Set(float64(lag))
	c.pending.Set(float64(g.Pending))
	return nil
}

// trim removes the entries the group has acknowledged: everything below
// the oldest pending entry, or up to the last delivered one when nothing
// is pending (XTRIM MINID keeps the threshold itself). Only the holder
// reads, and it trims between its own reads, so the threshold cannot
// move under it. It also removes consumers of earlier holders that have
// nothing pending (each restart with a new node id leaves one), each
// only if nothing is pending on it when it is removed (a stale holder may
// still read as one of them).
func (c *Consumer) trim(ctx context.Context) error {
	cctx, cancel := c.leaseCtx(ctx, 0)
	defer cancel()
	g, err := c.group.Info(cctx)
	if err != nil {
		return err
	}
	threshold := g.LastDelivered
	if g.Pending > 0 {
		if threshold, err = c.group.OldestPending(cctx); err != nil {
			return err
		}
	}
	if threshold == "" || threshold == "0-0" {
		return nil
	}
	if err := c.group.TrimBelow(cctx, threshold); err != nil {
		return err
	}
	cs, err := c.group.Consumers(cctx)
	if err != nil {
		return err
	}
	for _, x := range cs {
		if x.Name != c.cfg.NodeID && x.Pending == 0 {
			// Checked again in the same script as the removal: an entry
			// delivered since XINFO CONSUMERS keeps its consumer.
			if _, err := c.group.DeleteConsumer(cctx, x.Name); err != nil {
				return err
			}
		}
	}
	return nil
}

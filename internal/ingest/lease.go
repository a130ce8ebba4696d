package ingest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// lease is the right to consume the ingest stream: {prefix}:ingest:lease
// holding this node's token. until is a local, conservative bound of the
// lease's expiry in Redis (the time before the SET or PEXPIRE was sent,
// plus the TTL); every publish of the holder carries a deadline no later
// than until, so once the lease has expired in Redis no publish of an
// old holder can still land (publish.lua refuses it). A stuck holder
// therefore cannot interleave with its successor.
type lease struct {
	c       *Consumer
	token   string
	until   atomic.Int64 // unix ns; 0 when not held. Written by Run's goroutine, read by the bridge
	renewed time.Time    // owned by Run's goroutine: when until was last set
}

func newLease(c *Consumer) *lease {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return &lease{c: c, token: c.cfg.NodeID + ":" + hex.EncodeToString(b[:])}
}

// deadline returns the lease's local expiry (zero when not held).
func (l *lease) deadline() time.Time {
	ns := l.until.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// valid reports whether the lease is held and not expired.
func (l *lease) valid() bool {
	d := l.deadline()
	return !d.IsZero() && l.c.now().Before(d)
}

// hold makes sure the node holds the lease: it acquires it when free and
// renews it every third of LeaseTTL. It reports whether the node holds it
// with at least two thirds of LeaseTTL left.
func (l *lease) hold(ctx context.Context) bool {
	ttl := l.c.cfg.LeaseTTL
	start := l.c.now()
	if l.valid() && start.Sub(l.renewed) < ttl/3 {
		return true
	}
	cctx, cancel := l.c.callCtx(ctx, 0)
	defer cancel()
	var ok bool
	var err error
	if l.until.Load() != 0 {
		ok, err = l.c.group.RenewLease(cctx, l.token, ttl)
	} else {
		ok, err = l.c.group.AcquireLease(cctx, l.token, ttl)
	}
	if err != nil {
		l.c.log.Debug("ingest: lease", "err", err)
	}
	wasHeld := l.until.Load() != 0
	switch {
	case ok:
		l.until.Store(start.Add(ttl).UnixNano())
		l.renewed = start
		if !wasHeld {
			l.c.log.Info("ingest: consuming the ingest stream (lease acquired)")
			l.c.leader.Set(1)
		}
	case wasHeld && !l.valid():
		l.until.Store(0)
		l.c.leader.Set(0)
		l.c.log.Warn("ingest: lease lost; standing by")
	case wasHeld && err == nil:
		// The key no longer holds our token: another node took over.
		l.until.Store(0)
		l.c.leader.Set(0)
		l.c.log.Warn("ingest: lease taken over; standing by")
	}
	return ok
}

// release gives the lease up (on shutdown) so a standby takes over at
// once rather than after LeaseTTL.
func (l *lease) release() {
	if l.until.Load() == 0 {
		return
	}
	l.until.Store(0)
	l.c.leader.Set(0)
	ctx, cancel := context.WithTimeout(context.Background(), l.c.store.Timeout())
	defer cancel()
	if err := l.c.group.ReleaseLease(ctx, l.token); err != nil {
		l.c.log.Warn("ingest: releasing the lease", "err", err)
	}
}

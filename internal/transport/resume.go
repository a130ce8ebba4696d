package transport

import (
	"context"
	"time"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/protocol"
)

// DefaultCatchUpTimeout bounds, for every transport, the wait for a
// last_id ahead of the node. (A resume older than the window is bounded
// by its Backfill: see Resumer.Resume.)
const DefaultCatchUpTimeout = 3 * time.Second

// Feed is what a transport needs from the live feed. *pubsub.Feed has it.
type Feed interface {
	// Ready reports whether the node is current with the stream.
	Ready() bool
	// SyncNow asks for an immediate catch-up; it never blocks.
	SyncNow()
}

// Resumer resumes a transport's connections through the hub. Both
// transports resume through one, so the statuses, the catch-up and the
// backfill from Redis are the same over either.
type Resumer struct {
	Hub  *hub.Hub
	Feed Feed
	// Backfill reads the channel backlogs for resumes older than the
	// window; nil answers them expired.
	Backfill hub.Backfill
	// CatchUpTimeout bounds the wait of Request.
	CatchUpTimeout time.Duration
}

// Request turns what a client sent (lastID nil when it gave none; epoch ""
// when it gave none) into a hub.Resume. When lastID is ahead of this node
// (the client was just on a node a little ahead) it first catches up: it
// asks the feed to sync and waits for the id, at most CatchUpTimeout;
// still ahead afterwards, the hub answers epoch_changed.
func (r Resumer) Request(ctx context.Context, lastID *string, epoch string) hub.Resume {
	req := hub.Resume{Epoch: epoch}
	if lastID == nil {
		return req
	}
	id, err := protocol.ParseID(*lastID)
	if err != nil {
		req.Invalid = true
		return req
	}
	req.LastID, req.HasLastID = id, true
	cur, applied := r.Hub.State()
	if (epoch == "" || epoch == cur) && applied.Less(id) {
		r.Feed.SyncNow()
		ctx, cancel := context.WithTimeout(ctx, r.CatchUpTimeout)
		defer cancel()
		_ = r.Hub.WaitApplied(ctx, id)
	}
	return req
}

// Resume registers c with the hub for req (see hub.Hub.Resume), reading
// from Redis when req reaches further back than the window. On an error c
// is unregistered; close it with ResumeClose.
//
// ctx is the connection's: no deadline is added. In a reconnect storm the
// reads wait for their turn at the rate Redis serves them, and the
// Backfill bounds what must be bounded (*stream.BacklogReader: each Redis
// call by the store's timeout, the reads waiting by a cap, and a Redis
// that fails a call fails every read waiting), so a timeout here would
// only turn a slow turn into a refusal and a reconnect.
func (r Resumer) Resume(ctx context.Context, c *hub.Conn, req hub.Resume) (hub.Welcome, error) {
	return r.Hub.Resume(ctx, c, req, r.Backfill)
}

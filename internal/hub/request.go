package hub

import (
	"context"
	"errors"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

// DefaultCatchUpTimeout bounds, for every transport, the wait for a
// last_id ahead of the node and the read of the channel histories for one
// older than the window.
const DefaultCatchUpTimeout = 3 * time.Second

// Feed is what a transport needs from the live feed. *pubsub.Feed has it.
type Feed interface {
	// Ready reports whether the node is current with the stream.
	Ready() bool
	// SyncNow asks for an immediate catch-up; it never blocks.
	SyncNow()
}

// Request turns what a client sent (lastID nil when it gave none; epoch ""
// when it gave none) into a Resume. When lastID is ahead of this node (the
// client was just on a node a little ahead) it first catches up: it calls
// syncNow and waits for the id until ctx ends; still ahead afterwards,
// Register answers epoch_changed. Every transport resumes through it.
func (h *Hub) Request(ctx context.Context, lastID *string, epoch string, syncNow func()) Resume {
	r := Resume{Epoch: epoch}
	if lastID == nil {
		return r
	}
	id, err := protocol.ParseID(*lastID)
	if err != nil {
		r.Invalid = true
		return r
	}
	r.LastID, r.HasLastID = id, true
	cur, applied := h.State()
	if (epoch == "" || epoch == cur) && applied.Less(id) {
		syncNow()
		_ = h.WaitApplied(ctx, id)
	}
	return r
}

// ResumeClose returns the close code and reason for a failed Resume:
// 1012 when the history changed meanwhile (resume again at once), else
// 1013 (the history could not be read; retry with backoff).
func ResumeClose(err error) (protocol.CloseCode, string) {
	if errors.Is(err, ErrHistoryMoved) {
		return protocol.CloseRestart, "history changed"
	}
	return protocol.CloseTryLater, "history unavailable"
}

package client

import (
	"context"
	"fmt"
	"slices"

	"github.com/alarmgate/alarmgate/protocol"
)

// pendingChange is a change of this InboxView that Items shows before the
// state event it causes has arrived.
type pendingChange struct {
	op   string
	ids  []string
	upTo string
	// acked: the gateway applied it as state event event; it is done when
	// that event (or a newer one) is applied, or a page loaded after ack.
	acked bool
	event protocol.ID
	ack   uint64 // InboxView.acks at the acknowledgement
}

// MarkRead marks the alarms ids read (and seen). Like every change it
// shows in Items and Counts at once (ChangeLocal), then returns the
// gateway's answer: on an error the change is undone (ChangeRolledBack);
// on success the state event it caused confirms it, on every device of
// the user (ChangeEvent). Ids the inbox does not hold are ignored; no ids
// is a no-op.
func (v *InboxView) MarkRead(ctx context.Context, ids ...string) error {
	return v.change(ctx, protocol.OpRead, ids, "")
}

// MarkUnread marks the alarms ids unread again (they stay seen).
func (v *InboxView) MarkUnread(ctx context.Context, ids ...string) error {
	return v.change(ctx, protocol.OpUnread, ids, "")
}

// MarkSeen marks the alarms ids seen.
func (v *InboxView) MarkSeen(ctx context.Context, ids ...string) error {
	return v.change(ctx, protocol.OpSeen, ids, "")
}

// Archive archives the alarms ids: they leave the counts.
func (v *InboxView) Archive(ctx context.Context, ids ...string) error {
	return v.change(ctx, protocol.OpArchive, ids, "")
}

// Unarchive unarchives the alarms ids.
func (v *InboxView) Unarchive(ctx context.Context, ids ...string) error {
	return v.change(ctx, protocol.OpUnarchive, ids, "")
}

// MarkAllRead marks read every inbox alarm up to the newest one Items
// holds (with up_to), also those older than the loaded pages; alarms
// that arrive later stay unread. With no items it does nothing.
func (v *InboxView) MarkAllRead(ctx context.Context) error {
	v.mu.Lock()
	upTo := ""
	if len(v.ids) > 0 {
		upTo = v.ids[0].String()
	}
	v.mu.Unlock()
	if upTo == "" {
		return nil
	}
	return v.change(ctx, protocol.OpRead, nil, upTo)
}

// change applies a change optimistically, sends it and settles it.
func (v *InboxView) change(ctx context.Context, op string, ids []string, upTo string) error {
	if upTo == "" {
		if len(ids) == 0 {
			return nil
		}
		if len(ids) > protocol.MaxStateIDs {
			return fmt.Errorf("client: inbox: %s: more than %d ids", op, protocol.MaxStateIDs)
		}
		for _, id := range ids {
			if _, err := protocol.ParseID(id); err != nil {
				return fmt.Errorf("client: inbox: %s: %q: %w", op, id, err)
			}
		}
	}
	p := &pendingChange{op: op, ids: slices.Clone(ids), upTo: upTo}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrInboxClosed
	}
	v.pending = append(v.pending, p)
	v.emitLocked(InboxChange{Kind: ChangeLocal, Op: op, IDs: p.ids, UpTo: upTo, Counts: v.countsLocked()})
	v.mu.Unlock()

	res, err := v.postChange(ctx, op, p.ids, upTo)

	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil {
		v.dropPendingLocked(p)
		err = fmt.Errorf("client: inbox: %s: %w", op, err)
		v.emitLocked(InboxChange{Kind: ChangeRolledBack, Op: op, IDs: p.ids, UpTo: upTo, Counts: v.countsLocked(), Err: err})
		return err
	}
	event, perr := protocol.ParseID(res.ID)
	if res.ID == "" || perr != nil || !v.last.Less(event) {
		// Nothing changed, or its state event was already applied.
		v.dropPendingLocked(p)
		return nil
	}
	p.acked, p.event, p.ack = true, event, v.acks
	v.acks++
	return nil
}

// dropPendingLocked forgets p.
func (v *InboxView) dropPendingLocked(p *pendingChange) {
	v.pending = slices.DeleteFunc(v.pending, func(q *pendingChange) bool { return q == p })
}

// countsLocked returns the counts with the pending changes applied.
func (v *InboxView) countsLocked() protocol.Counts {
	if len(v.pending) == 0 {
		return v.counts
	}
	_, c := v.viewLocked()
	return c
}

// viewLocked returns a copy of the items and the counts with the pending
// changes applied, in the order they were made. A change by up_to (mark
// all read) leaves as unread or unseen only the items above it, which
// the view holds all of.
func (v *InboxView) viewLocked() ([]InboxItem, protocol.Counts) {
	items, counts := slices.Clone(v.items), v.counts
	for _, p := range v.pending {
		var d protocol.Counts
		applyToItems(items, v.ids, p.op, p.ids, p.upTo, &d)
		counts.Unread += d.Unread
		counts.Unseen += d.Unseen
		if p.upTo == "" || (p.op != protocol.OpRead && p.op != protocol.OpSeen) {
			continue
		}
		limit, err := protocol.ParseID(p.upTo)
		if err != nil {
			continue
		}
		var above protocol.Counts
		for i := 0; i < len(items) && limit.Less(v.ids[i]); i++ {
			c := countOf(items[i])
			above.Unread += c.Unread
			above.Unseen += c.Unseen
		}
		counts.Unseen = above.Unseen
		if p.op == protocol.OpRead {
			counts.Unread = above.Unread
		}
	}
	counts.Unread, counts.Unseen = max(counts.Unread, 0), max(counts.Unseen, 0)
	return items, counts
}

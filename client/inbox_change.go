package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
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
// the user (ChangeEvent). Ids the view shows in the state asked for
// already are not sent (with none left it does nothing); ids the inbox
// does not hold are ignored by the gateway.
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

// MarkAllRead marks read every inbox alarm this device knows (with
// up_to the newest item's id, or the Client's Position when that is
// newer), also those older than the loaded pages; alarms that arrive
// later stay unread. With neither it does nothing.
func (v *InboxView) MarkAllRead(ctx context.Context) error {
	return v.changeAll(ctx, protocol.OpRead)
}

// MarkAllSeen marks seen every inbox alarm this device knows, as
// MarkAllRead marks them read.
func (v *InboxView) MarkAllSeen(ctx context.Context) error {
	return v.changeAll(ctx, protocol.OpSeen)
}

// changeAll applies op up to the newest id this device knows.
func (v *InboxView) changeAll(ctx context.Context, op string) error {
	v.mu.Lock()
	var upTo protocol.ID
	known := len(v.ids) > 0
	if known {
		upTo = v.ids[0]
	}
	epoch := v.epoch
	v.mu.Unlock()
	if last, ep := v.c.Position(); ep == epoch && epoch != "" {
		if id, err := protocol.ParseID(last); err == nil && (!known || upTo.Less(id)) {
			upTo, known = id, true
		}
	}
	if !known {
		return nil
	}
	return v.change(ctx, op, nil, upTo.String())
}

// change applies a change optimistically, sends it and settles it.
func (v *InboxView) change(ctx context.Context, op string, ids []string, upTo string) error {
	if upTo == "" {
		if len(ids) > protocol.MaxStateIDs {
			return fmt.Errorf("client: inbox: %s: more than %d ids", op, protocol.MaxStateIDs)
		}
		for _, id := range ids {
			if _, err := protocol.ParseID(id); err != nil {
				return fmt.Errorf("client: inbox: %s: %q: %w", op, id, err)
			}
		}
	}
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return ErrInboxClosed
	}
	if upTo == "" {
		if ids = v.needChangeLocked(op, ids); len(ids) == 0 {
			v.mu.Unlock()
			return nil
		}
	}
	p := &pendingChange{op: op, ids: ids, upTo: upTo}
	v.pending = append(v.pending, p)
	v.emitLocked(InboxChange{Kind: ChangeLocal, Op: op, IDs: p.ids, UpTo: upTo, Counts: v.countsLocked()})
	v.mu.Unlock()

	res, err := v.sendChange(ctx, op, p.ids, upTo)

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

// needChangeLocked returns the ids (a new slice) whose item op would
// change as the view shows it, and those the view does not hold.
func (v *InboxView) needChangeLocked(op string, ids []string) []string {
	items, _ := v.viewLocked()
	var out []string
	for _, id := range ids {
		i, ok := v.find(protocol.MustParseID(id))
		if ok {
			after := items[i]
			applyOp(op, &after)
			ok = after.Seen == items[i].Seen && after.Read == items[i].Read && after.Archived == items[i].Archived
		}
		if !ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

// sendChange posts a change, sending it again (up to Retries times,
// after Retry-After or a backoff) while it fails on the network or is
// answered 429 or 5xx: a change is idempotent. Close stops it.
func (v *InboxView) sendChange(ctx context.Context, op string, ids []string, upTo string) (StateResult, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(v.ctx, cancel)()
	for attempt := 0; ; attempt++ {
		res, err := v.postChange(ctx, op, ids, upTo)
		var ae *APIError
		isAPI := errors.As(err, &ae)
		if err == nil || attempt >= v.cfg.Retries || ctx.Err() != nil ||
			(isAPI && ae.Status != http.StatusTooManyRequests && ae.Status < 500) {
			return res, err
		}
		delay := backoff(attempt, v.c.cfg.MinBackoff, v.c.cfg.MaxBackoff, rand.Float64())
		if isAPI {
			delay = max(delay, ae.RetryAfter)
		}
		if !sleep(ctx, delay) {
			return res, err
		}
	}
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

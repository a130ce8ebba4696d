package stream

import (
	"context"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// Page is one page of the log after an id, as a follower reads it.
type Page struct {
	// Entries are the alarms among the entries read, oldest first;
	// entries this package did not write are skipped (and logged).
	Entries []alarm.Entry
	// Read is how many entries were read after the id, alarms or not: a
	// page with Read < count is the last one.
	Read int
	// Last is the id of the last entry read, alarm or not (Zero if none):
	// the next page follows it.
	Last protocol.ID
	// Diverged reports that the log does not continue from the id: an
	// entry names a predecessor (field p) other than the entry before it,
	// or the id itself is gone and the entry after it cannot prove it
	// followed the id. What the follower applied is no longer in the log.
	Diverged bool
}

// Follow reads up to count entries after `after` (count <= 0: PageSize)
// and checks that the log continues from after: XRANGE after + COUNT
// count+1, so one round trip also tells whether after is still there.
// With after Zero (nothing applied) the first entry is not checked.
// Entries read before a divergence are in Entries; callers that follow
// the log should drop them and reload.
func (s *Store) Follow(ctx context.Context, after protocol.ID, count int64) (Page, error) {
	if count <= 0 {
		count = s.cfg.PageSize
	}
	if after == maxID {
		return Page{}, nil
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	start, n := "-", count
	if !after.IsZero() {
		start, n = after.String(), count+1
	}
	msgs, err := s.rdb.XRangeN(ctx, s.keys.stream, start, "+", n).Result()
	if err != nil {
		return Page{}, wrapErr("follow", err)
	}
	found := after.IsZero()
	if len(msgs) > 0 && msgs[0].ID == after.String() {
		found, msgs = true, msgs[1:]
	}
	if int64(len(msgs)) > count {
		msgs = msgs[:count]
	}
	var page Page
	prev := after
	for i, m := range msgs {
		id, err := protocol.ParseID(m.ID)
		if err != nil {
			continue // not a stream id: cannot happen
		}
		if !continues(m.Values, prev, i == 0 && after.IsZero(), i == 0 && !found) {
			s.log.Warn("stream: the log does not continue from the entry before", "key", s.keys.stream,
				"id", m.ID, "pred", m.Values["p"], "before", prev)
			page.Diverged = true
			return page, nil
		}
		page.Read++
		page.Last, prev = id, id
		page.Entries = s.toEntries(msgs[i:i+1], page.Entries)
	}
	page.Diverged = !found && len(msgs) == 0 // after is gone and nothing follows: rolled back
	return page, nil
}

// continues reports whether an entry with fields values may follow prev:
// it names prev as its predecessor, or names none (an older or foreign
// entry) while prev is known to be in the log. free skips the check
// (nothing applied yet); prevGone says prev is no longer in the log.
func continues(values map[string]any, prev protocol.ID, free, prevGone bool) bool {
	if free {
		return true
	}
	p, ok := values["p"].(string)
	if !ok {
		return !prevGone
	}
	pid, err := protocol.ParseID(p)
	return err == nil && pid == prev
}

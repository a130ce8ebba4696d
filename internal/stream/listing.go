package stream

import (
	"context"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// DefaultListingLimit is the limit ListAlarms applies when given
// limit <= 0.
const DefaultListingLimit = 100

// Listing is one page of a channel's retained alarms.
type Listing struct {
	// Epoch is the epoch current when the page was read ("" if absent).
	Epoch string
	// Alarms are the channel's alarms with id > after, oldest first.
	Alarms []alarm.Entry
	// Complete is false when alarms after `after` may already have been
	// dropped from the channel's backlog.
	Complete bool
	// Next is Zero unless limit cut the page short; then more alarms
	// follow and the caller continues with after = Next.
	Next protocol.ID
}

// ListAlarms serves the alarm listing, GET /v1/alarms: the retained alarms on channel with
// id > after (Zero: from the oldest retained), oldest first, at most limit
// (limit <= 0 means DefaultListingLimit; callers clamp the maximum). It
// reads the channel's backlog in one round trip: its cost follows the
// channel's depth, never the length of the log.
func (s *Store) ListAlarms(ctx context.Context, channel string, after protocol.ID, limit int) (Listing, error) {
	if limit <= 0 {
		limit = DefaultListingLimit
	}
	res, err := s.ReadBacklogs(ctx, []BacklogRead{{channel, after}}, limit)
	if err != nil {
		return Listing{}, err
	}
	p := res.Pages[0]
	out := Listing{Epoch: res.Epoch, Alarms: p.Alarms, Complete: p.Complete}
	if p.More && len(p.Alarms) > 0 {
		out.Next = p.Alarms[len(p.Alarms)-1].ID
	}
	return out, nil
}

package stream

import (
	"context"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// DefaultHistoryLimit is the limit History applies when given limit <= 0.
const DefaultHistoryLimit = 100

// HistoryResult is one page of a channel's retained alarms.
type HistoryResult struct {
	// Epoch is the epoch current when the page was read ("" if absent).
	Epoch string
	// Alarms are the channel's alarms with id > after, oldest first.
	Alarms []alarm.Entry
	// Complete is false when alarms after `after` may already have been
	// dropped from the channel's history.
	Complete bool
	// Next is Zero unless limit cut the page short; then more alarms
	// follow and the caller continues with after = Next.
	Next protocol.ID
}

// History serves GET /v1/alarms: the retained alarms on channel with
// id > after (Zero: from the oldest retained), oldest first, at most limit
// (limit <= 0 means DefaultHistoryLimit; callers clamp the maximum). It
// reads the channel's own history in one round trip: its cost follows the
// channel's depth, never the length of the log.
func (s *Store) History(ctx context.Context, channel string, after protocol.ID, limit int) (HistoryResult, error) {
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	res, err := s.ReadChannels(ctx, []ChannelRead{{channel, after}}, limit)
	if err != nil {
		return HistoryResult{}, err
	}
	p := res.Pages[0]
	out := HistoryResult{Epoch: res.Epoch, Alarms: p.Alarms, Complete: p.Complete}
	if p.More && len(p.Alarms) > 0 {
		out.Next = p.Alarms[len(p.Alarms)-1].ID
	}
	return out, nil
}

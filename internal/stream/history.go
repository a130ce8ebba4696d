package stream

import (
	"context"
	"fmt"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// DefaultHistoryLimit is the limit History applies when given limit <= 0.
const DefaultHistoryLimit = 100

// historyScanPages bounds the PageSize pages one History call reads, so a
// rare channel in a long stream costs a bounded amount of Redis work; the
// caller continues from HistoryResult.Next.
const historyScanPages = 100

// HistoryResult is one page of a channel's retained alarms.
type HistoryResult struct {
	// Epoch is the epoch current when the page was read ("" if absent).
	Epoch string
	// Alarms are the channel's alarms with id > after, oldest first.
	Alarms []alarm.Entry
	// Complete is false when alarms after `after` may already have been
	// trimmed away (for after = Zero: when anything was ever trimmed).
	Complete bool
	// Next is Zero unless the scan budget ran out before limit alarms or
	// the end of the stream were reached; then more alarms may follow and
	// the caller continues with after = Next (Alarms may be empty).
	Next protocol.ID
}

// History serves GET /v1/alarms: the retained alarms on channel with
// id > after (Zero: from the oldest retained), oldest first, at most limit
// (limit <= 0 means DefaultHistoryLimit; callers clamp the maximum).
//
// It scans the whole stream from after in PageSize pages, keeping entries
// whose channel field matches, and stops at limit, at the end of the
// stream, or after a budget of 100 pages; in that last case it returns
// what it found with Next set to the last id scanned. Completeness is read
// (XINFO STREAM) after the scan, so trimming during the scan is noticed.
// Without the Redis 7 XINFO fields (miniredis) trimming is assumed: an
// after older than the first retained entry, or Zero, is not Complete.
func (s *Store) History(ctx context.Context, channel string, after protocol.ID, limit int) (HistoryResult, error) {
	if !alarm.ValidChannel(channel) {
		return HistoryResult{}, alarm.ErrInvalidChannel
	}
	if limit <= 0 {
		limit = DefaultHistoryLimit
	}
	alarms, next, err := s.scanChannel(ctx, channel, after, limit)
	if err != nil {
		return HistoryResult{}, err
	}
	info, epoch, err := s.infoAndEpoch(ctx)
	if err != nil {
		return HistoryResult{}, fmt.Errorf("stream: history: %w", err)
	}
	complete := !after.Less(info.evictedBefore(info.first, info.haveFirst))
	if after.IsZero() && info.exists && (!info.known || info.trimmed) {
		complete = false
	}
	return HistoryResult{Epoch: epoch, Alarms: alarms, Complete: complete, Next: next}, nil
}

// scanChannel pages forward from after collecting channel's alarms. next
// is the last id scanned when the page budget ran out, else Zero.
func (s *Store) scanChannel(ctx context.Context, channel string, after protocol.ID, limit int) ([]alarm.Entry, protocol.ID, error) {
	var alarms []alarm.Entry
	cursor := after
	for range historyScanPages {
		if cursor == maxID {
			return alarms, protocol.Zero, nil
		}
		page, err := s.rangePage(ctx, cursor)
		if err != nil {
			return nil, protocol.Zero, fmt.Errorf("stream: history: %w", err)
		}
		for _, e := range page.entries {
			if e.Channel != channel {
				continue
			}
			alarms = append(alarms, e)
			if len(alarms) == limit {
				return alarms, protocol.Zero, nil
			}
		}
		if page.n < s.cfg.PageSize {
			return alarms, protocol.Zero, nil
		}
		cursor = page.last
	}
	return alarms, cursor, nil
}

type rangePage struct {
	entries []alarm.Entry
	n       int64       // entries read, including malformed ones
	last    protocol.ID // id of the last entry read
}

func (s *Store) rangePage(ctx context.Context, after protocol.ID) (rangePage, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	msgs, err := s.rdb.XRangeN(ctx, s.keys.stream, "("+after.String(), "+", s.cfg.PageSize).Result()
	if err != nil {
		return rangePage{}, wrapErr("range", err)
	}
	p := rangePage{entries: s.toEntries(msgs, nil), n: int64(len(msgs)), last: after}
	if len(msgs) > 0 {
		id, err := protocol.ParseID(msgs[len(msgs)-1].ID)
		if err != nil {
			return rangePage{}, fmt.Errorf("range: stream id %q: %w", msgs[len(msgs)-1].ID, err)
		}
		p.last = id
	}
	return p, nil
}

package stream

import (
	"context"
	_ "embed"
	"fmt"
	"strings"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

//go:embed backlog.lua
var backlogLua string

// BacklogPage is one channel's retained alarms after a position.
type BacklogPage struct {
	Channel string
	// Alarms are the channel's alarms with id > after, oldest first.
	Alarms []alarm.Entry
	// Complete is false when alarms of the channel with id > after may
	// have been dropped from its backlog (by its depth, or because it
	// expired when idle).
	Complete bool
	// More is true when the limit cut the page short.
	More bool
}

// Backlogs is what ReadBacklogs read in one round trip.
type Backlogs struct {
	// Epoch is the epoch current when the backlogs were read ("" if absent).
	Epoch string
	// Pages align with the reads asked for.
	Pages []BacklogPage
}

// BacklogRead asks for a channel's alarms after an id.
type BacklogRead struct {
	Channel string
	After   protocol.ID
}

// ReadBacklogs reads the backlogs of several channels, each after its own
// id, at most limit alarms each (limit <= 0: all retained), in one atomic
// script (one round trip) that also reads the epoch. Its cost follows what
// it returns. Every channel must be valid. Without a limit (resumes) an
// inbox's page holds its alarms and its retained state events, merged in
// id order, and is complete only when both reach back to the position;
// with a limit (listings) it holds its alarms only.
func (s *Store) ReadBacklogs(ctx context.Context, reads []BacklogRead, limit int) (Backlogs, error) {
	keys := make([]string, 2, 2+3*len(reads))
	keys[0], keys[1] = s.keys.epoch, s.keys.stream
	args := make([]any, 3, 3+3*len(reads))
	args[0], args[1], args[2] = max(limit, 0), s.cfg.Retention.Milliseconds(), s.cfg.InboxRetention.Milliseconds()
	channels := make([]string, len(reads))
	for i, r := range reads {
		if !alarm.ValidChannel(r.Channel) {
			return Backlogs{}, alarm.ErrInvalidChannel
		}
		keys = append(keys, s.keys.backlog(r.Channel))
		kind := "0"
		if s.inboxEnabled(r.Channel) {
			_, ib, se := s.keys.inbox(r.Channel)
			keys, kind = append(keys, ib, se), "1"
			if limit <= 0 {
				kind = "2"
			}
		}
		args = append(args, r.After.MS, r.After.Seq, kind)
		channels[i] = r.Channel
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	res, err := s.backlogRead.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return Backlogs{}, wrapErr("read backlogs", err)
	}
	out, err := s.parseBacklogs(res, channels)
	if err != nil {
		return Backlogs{}, fmt.Errorf("stream: read backlogs: %w", err)
	}
	return out, nil
}

// parseBacklogs decodes backlog.lua's reply. A malformed item is skipped
// and logged, and makes its page incomplete: the channel may miss it.
func (s *Store) parseBacklogs(res any, channels []string) (Backlogs, error) {
	arr, ok := res.([]any)
	if !ok || len(arr) != 1+len(channels) {
		return Backlogs{}, fmt.Errorf("unexpected script reply %T", res)
	}
	var out Backlogs
	if arr[0] != nil {
		if out.Epoch, ok = arr[0].(string); !ok {
			return Backlogs{}, fmt.Errorf("unexpected epoch %T", arr[0])
		}
	}
	out.Pages = make([]BacklogPage, len(channels))
	for i, c := range channels {
		page, ok := arr[1+i].([]any)
		if !ok || len(page) < 2 {
			return Backlogs{}, fmt.Errorf("unexpected page %T", arr[1+i])
		}
		complete, ok1 := page[0].(int64)
		more, ok2 := page[1].(int64)
		if !ok1 || !ok2 {
			return Backlogs{}, fmt.Errorf("unexpected page header %v", page[:2])
		}
		p := BacklogPage{Channel: c, Complete: complete == 1, More: more == 1, Alarms: make([]alarm.Entry, 0, len(page)-2)}
		for _, it := range page[2:] {
			e, ok := parseBacklogItem(it, c)
			if !ok {
				s.log.Warn("stream: skipping malformed channel backlog item", "channel", c)
				p.Complete = false
				continue
			}
			p.Alarms = append(p.Alarms, e)
		}
		out.Pages[i] = p
	}
	return out, nil
}

// parseBacklogItem decodes one "<id>\n<tail>" item of channel's backlog,
// checking the tail as toEntry does for stream entries.
func parseBacklogItem(it any, channel string) (alarm.Entry, bool) {
	str, ok := it.(string)
	if !ok {
		return alarm.Entry{}, false
	}
	idStr, tail, ok := strings.Cut(str, "\n")
	if !ok {
		return alarm.Entry{}, false
	}
	id, err := protocol.ParseID(idStr)
	if err != nil || !validTail(tail, channel) {
		return alarm.Entry{}, false
	}
	return alarm.NewEntry(id, channel, []byte(tail)), true
}

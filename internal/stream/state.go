package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// StateResult is the outcome of ChangeState.
type StateResult struct {
	// ID is the state event's log id; Zero when nothing changed (then
	// nothing was appended).
	ID protocol.ID
	// Changed is how many alarms changed state (-1: a retried call whose
	// first run's answer was lost; ID is that run's event).
	Changed int
	// Counts are the inbox counts after the change.
	Counts protocol.Counts
	Epoch  string
}

// ChangeState applies c to the inbox channel (user:<sub>) and, when any
// alarm's state changed, appends a state event to the log on channel,
// atomically (state.lua): it reaches every connection of the user through
// the live channel, the window and the channel's backlog, like an alarm.
// Ids that are no retained inbox alarm are ignored. Malformed changes are
// ErrInvalidChange, a channel that is no inbox ErrNoInbox.
func (s *Store) ChangeState(ctx context.Context, channel string, c protocol.StateChange) (StateResult, error) {
	if err := s.checkChange(channel, c); err != nil {
		return StateResult{}, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	d := deadlineOf(ctx)
	ix, ib, se := s.keys.inbox(channel)
	keys := []string{s.keys.stream, s.keys.epoch, s.keys.backlog(channel), ix, ib, se, s.keys.request(newToken())}
	args := make([]any, 0, 11+len(c.IDs))
	args = append(args, channel, c.Op, canonicalID(c.UpTo), s.cfg.MaxLen, s.cfg.Retention.Milliseconds(),
		s.keys.live, s.cfg.StateEvents, s.redisMS(d), tokenTTL(d).Milliseconds(), boolArg(s.cfg.ShardedPubSub),
		s.cfg.InboxRetention.Milliseconds())
	for _, id := range c.IDs {
		args = append(args, canonicalID(id))
	}
	res, err := s.state.Run(ctx, s.rdb, keys, args...).Result()
	if err != nil {
		return StateResult{}, wrapErr("change state", err)
	}
	out, err := parseStateReply(res)
	if err != nil {
		return StateResult{}, fmt.Errorf("stream: change state: %w", err)
	}
	return out, nil
}

// canonicalID returns id (already validated, or "") as Redis writes ids:
// without leading zeros, as the scripts compare them.
func canonicalID(id string) string {
	if p, err := protocol.ParseID(id); err == nil {
		return p.String()
	}
	return id
}

func parseStateReply(res any) (StateResult, error) {
	arr, ok := res.([]any)
	if !ok || len(arr) != 5 {
		return StateResult{}, fmt.Errorf("unexpected script reply %T %v", res, res)
	}
	idStr, ok1 := arr[0].(string)
	epoch, ok2 := arr[1].(string)
	unread, ok3 := arr[2].(int64)
	unseen, ok4 := arr[3].(int64)
	changed, ok5 := arr[4].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return StateResult{}, fmt.Errorf("unexpected script reply %v", arr)
	}
	out := StateResult{Changed: int(changed), Epoch: epoch, Counts: protocol.Counts{Unread: int(unread), Unseen: int(unseen)}}
	if idStr != "" {
		id, err := protocol.ParseID(idStr)
		if err != nil {
			return StateResult{}, fmt.Errorf("script returned id %s: %w", strconv.Quote(idStr), err)
		}
		out.ID = id
	}
	return out, nil
}

// Counts reads the counts of the inbox channel in one round trip. ok is
// false when channel has no inbox state (no inbox channel, or backlogs
// off).
func (s *Store) Counts(ctx context.Context, channel string) (c protocol.Counts, ok bool, err error) {
	if !s.inboxEnabled(channel) {
		return protocol.Counts{}, false, nil
	}
	cs, err := s.countsOf(ctx, []string{channel})
	if err != nil {
		return protocol.Counts{}, false, err
	}
	return cs[0], true, nil
}

// countsOf reads the counts of several inbox channels in one pipeline:
// two ZLEXCOUNTs each (inbox.lua's inbox_counts), O(log n).
func (s *Store) countsOf(ctx context.Context, channels []string) ([]protocol.Counts, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	cmds := make([][2]*redis.IntCmd, len(channels))
	for i, ch := range channels {
		ix, _, _ := s.keys.inbox(ch)
		cmds[i] = [2]*redis.IntCmd{pipe.ZLexCount(ctx, ix, "[a", "(c"), pipe.ZLexCount(ctx, ix, "[a", "(b")}
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	out := make([]protocol.Counts, len(channels))
	for i, c := range cmds {
		unread, err1 := c[0].Result()
		unseen, err2 := c[1].Result()
		if err := errors.Join(err1, err2); err != nil {
			return nil, wrapErr("counts", err)
		}
		out[i] = protocol.Counts{Unread: int(unread), Unseen: int(unseen)}
	}
	return out, nil
}

package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
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
	keys := []string{s.keys.stream, s.keys.epoch, s.keys.backlog(channel), s.keys.state(channel), s.keys.request(newToken())}
	args := make([]any, 0, 10+len(c.IDs))
	args = append(args, channel, c.Op, c.UpTo, s.cfg.MaxLen, s.cfg.Retention.Milliseconds(),
		s.keys.live, s.cfg.ChannelBacklog, s.redisMS(d), tokenTTL(d).Milliseconds(), boolArg(s.cfg.ShardedPubSub))
	for _, id := range c.IDs {
		args = append(args, id)
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

// countsOf reads the counts of several inbox channels in one pipeline.
func (s *Store) countsOf(ctx context.Context, channels []string) ([]protocol.Counts, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(channels))
	for i, ch := range channels {
		cmds[i] = pipe.HMGet(ctx, s.keys.state(ch), "unread", "unseen")
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	out := make([]protocol.Counts, len(channels))
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err != nil {
			return nil, wrapErr("counts", err)
		}
		out[i] = protocol.Counts{Unread: atoiOr0(v[0]), Unseen: atoiOr0(v[1])}
	}
	return out, nil
}

func atoiOr0(v any) int {
	str, _ := v.(string)
	n, _ := strconv.Atoi(str)
	return n
}

// InboxItem is one inbox alarm with its state bits.
type InboxItem struct {
	Alarm alarm.Entry
	Bits  int
}

// Inbox is an inbox as read at one instant.
type Inbox struct {
	Epoch string
	// Items are the retained inbox alarms, newest first.
	Items  []InboxItem
	Counts protocol.Counts
}

// ReadInbox reads the whole inbox of channel (its backlog and state) in
// one atomic round trip (MULTI): at most ChannelBacklog alarms.
func (s *Store) ReadInbox(ctx context.Context, channel string) (Inbox, error) {
	if !alarm.ValidChannel(channel) || !s.inboxEnabled(channel) {
		return Inbox{}, ErrNoInbox
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var hist *redis.StringSliceCmd
	var st *redis.MapStringStringCmd
	var ep *redis.StringCmd
	_, err := s.rdb.TxPipelined(ctx, func(p redis.Pipeliner) error {
		ep = p.Get(ctx, s.keys.epoch)
		hist = p.LRange(ctx, s.keys.backlog(channel), 1, -1)
		st = p.HGetAll(ctx, s.keys.state(channel))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return Inbox{}, wrapErr("read inbox", err)
	}
	epoch, err := readEpoch(ep)
	if err != nil {
		return Inbox{}, wrapErr("read inbox", err)
	}
	bits := st.Val()
	out := Inbox{Epoch: epoch, Counts: protocol.Counts{Unread: atoiOr0(bits["unread"]), Unseen: atoiOr0(bits["unseen"])}}
	for _, it := range slices.Backward(hist.Val()) {
		idStr, _, _ := strings.Cut(it, "\n")
		b, ok := bits[idStr]
		if !ok {
			continue // a state event, or an alarm from before inbox state
		}
		e, ok := parseBacklogItem(it, channel)
		if !ok || !e.IsAlarm() {
			s.log.Warn("stream: skipping malformed inbox item", "channel", channel)
			continue
		}
		out.Items = append(out.Items, InboxItem{Alarm: e, Bits: atoiOr0(b)})
	}
	return out, nil
}

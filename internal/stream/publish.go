package stream

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

//go:embed publish.lua
var publishLua string

// PublishInput is one alarm to publish. Data is any JSON value (empty means
// null); IdempotencyKey is optional.
type PublishInput struct {
	Channel        string
	Event          string
	Data           json.RawMessage
	IdempotencyKey string
}

// PublishResult describes an accepted alarm. Replayed is true when the
// idempotency key was seen before: ID is then the earlier alarm's id and no
// new alarm was written. Epoch is the epoch current at publish time.
type PublishResult struct {
	ID       protocol.ID
	Channel  string
	Epoch    string
	Replayed bool
}

// prepared is a validated PublishInput in script form.
type prepared struct {
	keys []string
	args []any
}

// prepare validates in without touching Redis. Validation errors are the
// alarm package's sentinels as is; an oversized tail is ErrTooLarge.
func (s *Store) prepare(in PublishInput, epochCandidate string) (prepared, error) {
	idemKey, hasIdem := s.keys.idemNone, "0"
	if in.IdempotencyKey != "" {
		if !alarm.ValidIdemKey(in.IdempotencyKey) {
			return prepared{}, alarm.ErrInvalidIdemKey
		}
		idemKey, hasIdem = s.keys.idem(in.IdempotencyKey), "1"
	}
	tail, err := alarm.EncodeTail(in.Channel, in.Event, in.Data)
	if err != nil {
		return prepared{}, err
	}
	if len(tail) > s.cfg.MaxAlarmBytes {
		return prepared{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(tail), s.cfg.MaxAlarmBytes)
	}
	return prepared{
		keys: []string{s.keys.stream, s.keys.epoch, idemKey, s.keys.channel(in.Channel)},
		args: []any{
			in.Channel, tail, epochCandidate,
			s.cfg.MaxLen, s.cfg.Retention.Milliseconds(), s.cfg.IdemTTL.Milliseconds(),
			s.keys.live, hasIdem, s.cfg.ChannelHistory,
		},
	}, nil
}

// Publish appends one alarm to the stream and broadcasts it on the live
// channel, atomically (publish.lua). With an IdempotencyKey seen within
// IdemTTL it writes nothing and returns the earlier id with Replayed set.
func (s *Store) Publish(ctx context.Context, in PublishInput) (PublishResult, error) {
	p, err := s.prepare(in, newEpoch())
	if err != nil {
		return PublishResult{}, err
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	res, err := s.publish.Run(ctx, s.rdb, p.keys, p.args...).Result()
	if err != nil {
		return PublishResult{}, wrapErr("publish", err)
	}
	out, err := parsePublishReply(res, in.Channel)
	if err != nil {
		return PublishResult{}, fmt.Errorf("stream: publish: %w", err)
	}
	return out, nil
}

// PublishBatch publishes several alarms. Each item is validated on its own;
// the valid ones run as one pipeline of EVALSHA calls (items that meet
// NOSCRIPT are retried with EVAL in a second pipeline). results and errs
// align with ins: errs[i] != nil means item i was not accepted. Items are
// appended in order (ids ascending with the index), except when Redis lost
// its script cache during the batch: then the retried items follow the
// others. A repeated idempotency key within the batch replays the earlier
// item's id.
func (s *Store) PublishBatch(ctx context.Context, ins []PublishInput) ([]PublishResult, []error) {
	b := &batch{
		ins:     ins,
		preps:   make([]prepared, len(ins)),
		results: make([]PublishResult, len(ins)),
		errs:    make([]error, len(ins)),
	}
	candidate := newEpoch()
	var todo []int
	for i, in := range ins {
		p, err := s.prepare(in, candidate)
		if err != nil {
			b.errs[i] = err
			continue
		}
		b.preps[i] = p
		todo = append(todo, i)
	}
	if len(todo) == 0 {
		return b.results, b.errs
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	if retry := s.runBatch(ctx, b, todo, false); len(retry) > 0 {
		s.log.Debug("stream: publish script not cached, retrying batch items with EVAL", "items", len(retry))
		s.runBatch(ctx, b, retry, true)
	}
	return b.results, b.errs
}

// batch is one PublishBatch call; all slices align with ins.
type batch struct {
	ins     []PublishInput
	preps   []prepared
	results []PublishResult
	errs    []error
}

// runBatch runs the items idx of b in one pipeline, filling results and
// errs. Unless eval is set, it returns the items that met NOSCRIPT (the
// script did not run for them, so they are safe to run again).
func (s *Store) runBatch(ctx context.Context, b *batch, idx []int, eval bool) (noscript []int) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.Cmd, len(idx))
	for j, i := range idx {
		if eval {
			cmds[j] = s.publish.Eval(ctx, pipe, b.preps[i].keys, b.preps[i].args...)
		} else {
			cmds[j] = s.publish.EvalSha(ctx, pipe, b.preps[i].keys, b.preps[i].args...)
		}
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	for j, i := range idx {
		res, err := cmds[j].Result()
		switch {
		case err != nil && !eval && redis.HasErrorPrefix(err, "NOSCRIPT"):
			noscript = append(noscript, i)
		case err != nil:
			b.errs[i] = wrapErr("publish batch", err)
		default:
			b.results[i], err = parsePublishReply(res, b.ins[i].Channel)
			if err != nil {
				b.errs[i] = fmt.Errorf("stream: publish batch: %w", err)
			}
		}
	}
	return noscript
}

// parsePublishReply decodes the script's {id, epoch, replayed} reply.
func parsePublishReply(res any, channel string) (PublishResult, error) {
	arr, ok := res.([]any)
	if !ok || len(arr) != 3 {
		return PublishResult{}, fmt.Errorf("unexpected script reply %T %v", res, res)
	}
	idStr, ok1 := arr[0].(string)
	epoch, ok2 := arr[1].(string)
	flag, ok3 := arr[2].(int64)
	if !ok1 || !ok2 || !ok3 {
		return PublishResult{}, fmt.Errorf("unexpected script reply %v", arr)
	}
	id, err := protocol.ParseID(idStr)
	if err != nil {
		return PublishResult{}, fmt.Errorf("script returned id %s: %w", strconv.Quote(idStr), err)
	}
	return PublishResult{ID: id, Channel: channel, Epoch: epoch, Replayed: flag == 1}, nil
}

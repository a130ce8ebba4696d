package stream

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

//go:embed publish.lua
var publishLua string

// logLua holds what the scripts that write the log share.
//
//go:embed log.lua
var logLua string

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

// minTokenTTL is the least time a request token record lives: longer than
// go-redis' retries of one call can take within its deadline.
const minTokenTTL = time.Second

// prepare validates in without touching Redis. Validation errors are the
// alarm package's sentinels as is; an oversized tail is ErrTooLarge.
// deadline (zero: none) is when the caller stops waiting: the script
// refuses to write after it, so a failed call never stores the alarm.
func (s *Store) prepare(in PublishInput, epochCandidate string, deadline time.Time) (prepared, error) {
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
	var deadlineMS int64
	tokenTTL := minTokenTTL
	if !deadline.IsZero() {
		deadlineMS = deadline.UnixMilli()
		tokenTTL += max(time.Until(deadline), 0)
	}
	sum := sha256.Sum256(tail)
	inbox := "0"
	if s.inboxEnabled(in.Channel) {
		inbox = "1"
	}
	return prepared{
		keys: []string{s.keys.stream, s.keys.epoch, idemKey, s.keys.channel(in.Channel), s.keys.request(newToken()), s.keys.state(in.Channel)},
		args: []any{
			in.Channel, tail, epochCandidate,
			s.cfg.MaxLen, s.cfg.Retention.Milliseconds(), s.cfg.IdemTTL.Milliseconds(),
			s.keys.live, hasIdem, s.cfg.ChannelHistory,
			deadlineMS, hex.EncodeToString(sum[:16]), tokenTTL.Milliseconds(),
			boolArg(s.cfg.ShardedPubSub), inbox,
		},
	}, nil
}

// boolArg is a script flag: "1" or "0".
func boolArg(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// newToken returns a random request token: 32 lowercase hex characters.
func newToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

// deadlineOf returns ctx's deadline (zero when it has none).
func deadlineOf(ctx context.Context) time.Time {
	d, _ := ctx.Deadline()
	return d
}

// Publish appends one alarm to the stream and broadcasts it on the live
// channel, atomically (publish.lua). With an IdempotencyKey seen within
// IdemTTL it writes nothing and returns the earlier id with Replayed set.
func (s *Store) Publish(ctx context.Context, in PublishInput) (PublishResult, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	if s.cfg.MinReplicas > 0 { // the script and WAIT share one pipeline
		res, errs := s.publishBatch(ctx, []PublishInput{in}, nil)
		return res[0], errs[0]
	}
	p, err := s.prepare(in, newEpoch(), deadlineOf(ctx))
	if err != nil {
		return PublishResult{}, err
	}
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
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.publishBatch(ctx, ins, nil)
}

// publishBatch is PublishBatch under ctx (already bounded by Timeout).
// deadlines, when set, aligns with ins and holds each item's own deadline
// (zero: ctx's); the script refuses an item after its deadline.
func (s *Store) publishBatch(ctx context.Context, ins []PublishInput, deadlines []time.Time) ([]PublishResult, []error) {
	b := &batch{
		ins:     ins,
		preps:   make([]prepared, len(ins)),
		results: make([]PublishResult, len(ins)),
		errs:    make([]error, len(ins)),
	}
	candidate := newEpoch()
	var todo []int
	for i, in := range ins {
		deadline := deadlineOf(ctx)
		if deadlines != nil && !deadlines[i].IsZero() && (deadline.IsZero() || deadlines[i].Before(deadline)) {
			deadline = deadlines[i]
		}
		p, err := s.prepare(in, candidate, deadline)
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
// With MinReplicas the pipeline ends with WAIT, and an item is accepted
// only when enough replicas confirmed it.
func (s *Store) runBatch(ctx context.Context, b *batch, idx []int, eval bool) (noscript []int) {
	pipe, err := s.primaryPipeline(ctx)
	if err != nil {
		for _, i := range idx {
			b.errs[i] = wrapErr("publish batch", err)
		}
		return nil
	}
	cmds := make([]*redis.Cmd, len(idx))
	for j, i := range idx {
		if eval {
			cmds[j] = s.publish.Eval(ctx, pipe, b.preps[i].keys, b.preps[i].args...)
		} else {
			cmds[j] = s.publish.EvalSha(ctx, pipe, b.preps[i].keys, b.preps[i].args...)
		}
	}
	var wait *redis.Cmd
	if s.cfg.MinReplicas > 0 {
		wait = pipe.Do(ctx, "WAIT", s.cfg.MinReplicas, s.cfg.ReplicaTimeout.Milliseconds())
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	waitErr := s.checkWait(wait)
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
			} else if waitErr != nil {
				b.results[i], b.errs[i] = PublishResult{}, waitErr
			}
		}
	}
	return noscript
}

// primaryPipeline returns a pipeline whose commands share one connection
// to the primary of {prefix}, as WAIT needs: on a Cluster the node client
// that owns the slot.
func (s *Store) primaryPipeline(ctx context.Context) (redis.Pipeliner, error) {
	if cc, ok := s.rdb.(*redis.ClusterClient); ok && s.cfg.MinReplicas > 0 {
		node, err := cc.MasterForKey(ctx, s.keys.stream)
		if err != nil {
			return nil, err
		}
		return node.Pipeline(), nil
	}
	return s.rdb.Pipeline(), nil
}

// checkWait turns the reply of the pipeline's WAIT (nil: none) into
// ErrNotReplicated when fewer than MinReplicas confirmed.
func (s *Store) checkWait(wait *redis.Cmd) error {
	if wait == nil {
		return nil
	}
	n, err := wait.Int64()
	if err != nil {
		return fmt.Errorf("stream: publish: WAIT: %w: %w: %w", ErrUnavailable, ErrNotReplicated, err)
	}
	if n < int64(s.cfg.MinReplicas) {
		return fmt.Errorf("stream: publish: %w: %w: %d of %d replicas confirmed within %v",
			ErrUnavailable, ErrNotReplicated, n, s.cfg.MinReplicas, s.cfg.ReplicaTimeout)
	}
	return nil
}

// parsePublishReply decodes the script's {id, epoch, flag} reply; flag 2
// (the idempotency key was used for another alarm) is ErrIdemKeyReused.
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
	if flag == 2 {
		return PublishResult{}, fmt.Errorf("%w (first used for alarm %s)", ErrIdemKeyReused, id)
	}
	return PublishResult{ID: id, Channel: channel, Epoch: epoch, Replayed: flag == 1}, nil
}

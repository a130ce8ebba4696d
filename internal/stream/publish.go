package stream

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
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
	// EntryID, set by the ingest consumer only, is the id of the ingest
	// entry the alarm comes from. Without an IdempotencyKey the alarm's
	// idempotency record is then {prefix}:iidem:<EntryID>, a namespace no
	// IdempotencyKey can name (an HTTP caller cannot claim an entry's id).
	EntryID string
	// EntryPartition is the partition whose ingest stream holds EntryID:
	// with more than one partition the record is
	// {tag}:iidem:<EntryPartition>:<EntryID> (keys.go). Ignored with one
	// partition and without EntryID.
	EntryPartition int
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

// item is a validated PublishInput in script form: its five keys and
// six arguments (see publish.lua).
type item struct {
	keys [5]string
	args [6]any
	size int // bytes of its tail
}

// minTokenTTL is the least time a request token record lives: longer than
// go-redis' retries of one call can take within its deadline.
const minTokenTTL = time.Second

// Script call limits: a batch larger than either is split into several
// calls in one pipeline, so one call never holds Redis for long.
const (
	maxCallItems = 128
	maxCallBytes = 512 << 10
)

// prepare validates in without touching Redis. Validation errors are the
// alarm package's sentinels as is; an oversized tail is ErrTooLarge.
// deadline (zero: none) is when the caller stops waiting: the script
// refuses to write after it, so a failed call never stores the alarm.
func (s *Store) prepare(in PublishInput, deadline time.Time) (item, error) {
	hasIdem := in.IdempotencyKey != "" || in.EntryID != ""
	if in.IdempotencyKey != "" && !alarm.ValidIdemKey(in.IdempotencyKey) {
		return item{}, alarm.ErrInvalidIdemKey
	}
	if _, err := protocol.ParseID(in.EntryID); in.EntryID != "" &&
		(err != nil || in.EntryPartition < 0 || in.EntryPartition >= s.cfg.Partitions) {
		return item{}, alarm.ErrInvalidIdemKey
	}
	tail, err := alarm.EncodeTail(in.Channel, in.Event, in.Data)
	if err != nil {
		return item{}, err
	}
	if len(tail) > s.cfg.MaxAlarmBytes {
		return item{}, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(tail), s.cfg.MaxAlarmBytes)
	}
	// The hash is kept only in the idempotency record: without a key the
	// script ignores it.
	idemKey, hash := s.keys.idemNone, ""
	if hasIdem {
		sum := sha256.Sum256(tail)
		idemKey, hash = s.keys.idem(in.IdempotencyKey), hex.EncodeToString(sum[:16])
		if in.IdempotencyKey == "" {
			idemKey = s.keys.ingest.entryIdem(s.cfg.Partitions, in.EntryPartition, in.EntryID)
		}
	}
	ix, ib, se := s.keys.inbox(in.Channel) // named, but written only for an inbox
	return item{
		keys: [5]string{idemKey, s.keys.backlog(in.Channel), ix, ib, se},
		args: [6]any{in.Channel, tail, boolArg(hasIdem), hash, boolArg(s.inboxEnabled(in.Channel)), s.redisMS(deadline)},
		size: len(tail),
	}, nil
}

// call is one run of publish.lua: the items it carries, in order.
type call struct {
	idx  []int // indexes into the batch
	keys []string
	args []any
}

// newCall starts a script call with room for n items and its own token.
// It runs as the first call of a pipeline until after names its predecessor.
func (s *Store) newCall(n int) *call {
	c := &call{
		idx:  make([]int, 0, n),
		keys: make([]string, 4, 4+5*n),
		args: make([]any, 9, 9+6*n),
	}
	c.keys[0], c.keys[1], c.keys[2] = s.keys.stream, s.keys.epoch, s.keys.request(newToken())
	c.keys[3] = c.keys[2]
	c.args[0], c.args[1], c.args[2], c.args[3] = newEpoch(), s.cfg.MaxLen, s.cfg.Retention.Milliseconds(), s.cfg.IdemTTL.Milliseconds()
	c.args[4], c.args[5], c.args[7] = s.keys.live, s.cfg.ChannelBacklog, boolArg(s.cfg.ShardedPubSub)
	c.args[8] = s.cfg.InboxRetention.Milliseconds()
	return c
}

// add appends item it (index i of the batch) to c.
func (c *call) add(i int, it item) {
	c.idx = append(c.idx, i)
	c.keys = append(c.keys, it.keys[:]...)
	c.args = append(c.args, it.args[:]...)
}

// after makes c run only if prev, the call before it in its pipeline, ran
// (nil: c is the first of its pipeline).
func (c *call) after(prev *call) {
	c.keys[3] = c.keys[2]
	if prev != nil {
		c.keys[3] = prev.keys[2]
	}
}

// finish sets the token record's TTL (tokenTTL of latest, the latest of
// the callers' deadlines).
func (c *call) finish(latest time.Time) {
	c.args[6] = tokenTTL(latest).Milliseconds()
}

// tokenTTL is the life of a request token record for a call whose caller
// waits until deadline (zero: none): it outlives go-redis' retries within
// the deadline.
func tokenTTL(deadline time.Time) time.Duration {
	ttl := minTokenTTL
	if !deadline.IsZero() {
		ttl += max(time.Until(deadline), 0)
	}
	return ttl
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
	deadline := deadlineOf(ctx)
	it, err := s.prepare(in, deadline)
	if err != nil {
		return PublishResult{}, err
	}
	c := s.newCall(1)
	c.add(0, it)
	c.finish(deadline)
	res, err := s.publish.Run(ctx, s.rdb, c.keys, c.args...).Text()
	if err != nil {
		return PublishResult{}, wrapErr("publish", err)
	}
	out := []PublishResult{{}}
	errs := []error{nil}
	if err := parsePublishReply(res, c, []PublishInput{in}, out, errs); err != nil {
		return PublishResult{}, fmt.Errorf("stream: publish: %w", err)
	}
	return out[0], errs[0]
}

// PublishBatch publishes several alarms. Each item is validated on its own;
// the valid ones go to Redis in one pipeline of script calls, each call
// carrying up to 128 alarms. A call runs only if the one before it ran, so
// from the first call that fails, none of the pipeline runs: when that
// failure is NOSCRIPT (Redis lost its script cache), those calls are
// retried with EVAL in a second pipeline, in order; otherwise their items
// fail with its error. results and errs align with ins: errs[i] != nil
// means item i was not accepted. Accepted items are appended in order (ids
// ascending with the index). A repeated idempotency key within the batch
// replays the earlier item's id.
func (s *Store) PublishBatch(ctx context.Context, ins []PublishInput) ([]PublishResult, []error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	return s.publishBatch(ctx, ins, nil)
}

// publishBatch is PublishBatch under ctx (already bounded by Timeout).
// deadlines, when set, aligns with ins and holds each item's own deadline
// (zero: ctx's); the script refuses an item after its deadline.
func (s *Store) publishBatch(ctx context.Context, ins []PublishInput, deadlines []time.Time) ([]PublishResult, []error) {
	results, errs := make([]PublishResult, len(ins)), make([]error, len(ins))
	var calls []*call
	var cur *call
	var bytes int
	var latest time.Time
	for i, in := range ins {
		deadline := deadlineOf(ctx)
		if deadlines != nil && !deadlines[i].IsZero() && (deadline.IsZero() || deadlines[i].Before(deadline)) {
			deadline = deadlines[i]
		}
		it, err := s.prepare(in, deadline)
		if err != nil {
			errs[i] = err
			continue
		}
		if cur != nil && (len(cur.idx) == maxCallItems || bytes+it.size > maxCallBytes) {
			cur.finish(latest)
			cur = nil
		}
		if cur == nil {
			cur, bytes, latest = s.newCall(min(len(ins)-i, maxCallItems)), 0, time.Time{}
			calls = append(calls, cur)
		}
		cur.add(i, it)
		bytes += it.size
		if deadline.After(latest) {
			latest = deadline
		}
	}
	if cur == nil {
		return results, errs
	}
	cur.finish(latest)
	if retry := s.runCalls(ctx, calls, ins, results, errs, false); len(retry) > 0 {
		// None of retry ran (each waits for the one before it), and the
		// calls before them are settled: running them now keeps the order.
		s.log.Debug("stream: publish script not cached, retrying with EVAL", "calls", len(retry))
		s.runCalls(ctx, retry, ins, results, errs, true)
	}
	return results, errs
}

// runCalls runs calls in one pipeline, each only if the one before it ran,
// filling results and errs (aligned with ins). Unless eval is set, when
// the first call that failed met NOSCRIPT it returns that call and every
// later one, unsettled: none of them ran, so they are safe to run again.
// Otherwise the items of the calls after a failed one fail with its error.
// With MinReplicas the pipeline ends with WAIT, and an item is accepted
// only when enough replicas confirmed it.
func (s *Store) runCalls(ctx context.Context, calls []*call, ins []PublishInput, results []PublishResult, errs []error, eval bool) (retry []*call) {
	pipe, err := s.primaryPipeline(ctx)
	if err != nil {
		for _, c := range calls {
			for _, i := range c.idx {
				errs[i] = wrapErr("publish batch", err)
			}
		}
		return nil
	}
	cmds := make([]*redis.Cmd, len(calls))
	for j, c := range calls {
		var prev *call
		if j > 0 {
			prev = calls[j-1]
		}
		c.after(prev)
		if eval {
			cmds[j] = s.publish.Eval(ctx, pipe, c.keys, c.args...)
		} else {
			cmds[j] = s.publish.EvalSha(ctx, pipe, c.keys, c.args...)
		}
	}
	var wait *redis.Cmd
	if s.cfg.MinReplicas > 0 {
		wait = pipe.Do(ctx, "WAIT", s.cfg.MinReplicas, s.cfg.ReplicaTimeout.Milliseconds())
	}
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	waitErr := s.checkWait(wait)
	var failed error // the first call's failure: the later calls did not run
	for j, c := range calls {
		res, err := cmds[j].Text()
		switch {
		case err == nil:
			err = parsePublishReply(res, c, ins, results, errs)
			if err != nil {
				err = fmt.Errorf("stream: publish batch: %w", err)
			}
		case failed == nil && !eval && redis.HasErrorPrefix(err, "NOSCRIPT"):
			return calls[j:]
		case failed != nil && (redis.HasErrorPrefix(err, "NOTRUN") || redis.HasErrorPrefix(err, "NOSCRIPT")):
			err = failed
		case redis.HasErrorPrefix(err, "NOTRUN"): // the record of a call that ran vanished
			err = fmt.Errorf("stream: publish batch: %w: %w", ErrUnavailable, err)
		default:
			err = wrapErr("publish batch", err)
		}
		if failed == nil && err != nil {
			failed = err
		}
		for _, i := range c.idx {
			switch {
			case err != nil:
				results[i], errs[i] = PublishResult{}, err
			case waitErr != nil && errs[i] == nil:
				results[i], errs[i] = PublishResult{}, waitErr
			}
		}
	}
	return nil
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
		return tag("stream: publish: WAIT: "+err.Error(), ErrUnavailable, ErrNotReplicated, err)
	}
	if n < int64(s.cfg.MinReplicas) {
		return tag(fmt.Sprintf("stream: publish: not confirmed by enough replicas: %d of %d confirmed within %v",
			n, s.cfg.MinReplicas, s.cfg.ReplicaTimeout), ErrUnavailable, ErrNotReplicated)
	}
	return nil
}

// ErrDeadline reports an alarm or state change that reached Redis after
// its caller's deadline: nothing was written. It wraps ErrUnavailable (503), and a
// retry is safe.
var ErrDeadline = tag("stream: DEADLINE: the call reached Redis after its deadline; nothing was written", ErrUnavailable)

// parsePublishReply decodes the script's reply to call c, "<epoch>\n<id>
// <flag>\n..." with one line per item, into results and errs (aligned
// with ins). An item's flag 2 (its idempotency key was used for another
// alarm) is ErrIdemKeyReused, flag 3 ErrDeadline. An error means the
// reply itself is malformed.
func parsePublishReply(reply string, c *call, ins []PublishInput, results []PublishResult, errs []error) error {
	epoch, rest, ok := strings.Cut(reply, "\n")
	if !ok || epoch == "" {
		return fmt.Errorf("unexpected script reply %q", reply)
	}
	for _, i := range c.idx {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		idStr, flag, ok := strings.Cut(line, " ")
		id, err := protocol.ParseID(idStr)
		if !ok || err != nil || len(flag) != 1 || flag[0] < '0' || flag[0] > '3' {
			return fmt.Errorf("unexpected script reply line %q", line)
		}
		switch flag[0] {
		case '2':
			errs[i] = tag(fmt.Sprintf("stream: publish: idempotency key reused for a different alarm (first used for alarm %s)", id), ErrIdemKeyReused)
		case '3':
			errs[i] = tag("stream: publish: DEADLINE: the publish reached Redis after its deadline; nothing was written", ErrDeadline)
		default:
			results[i] = PublishResult{ID: id, Channel: ins[i].Channel, Epoch: epoch, Replayed: flag[0] == '1'}
		}
	}
	if rest != "" {
		return fmt.Errorf("unexpected script reply: %d items, more lines than that", len(c.idx))
	}
	return nil
}

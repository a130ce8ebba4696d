package stream

import "context"

// rotateLua replaces the epoch with ARGV[2] if it equals ARGV[1] or is
// absent, and returns the epoch now current.
const rotateLua = `local cur = redis.call('GET', KEYS[1])
if (not cur) or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2])
  return ARGV[2]
end
return cur`

// EnsureEpoch creates the epoch (SET NX, 16 random hex characters) if it is
// absent and returns the current one.
func (s *Store) EnsureEpoch(ctx context.Context) (string, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	pipe.SetNX(ctx, s.keys.epoch, newEpoch(), 0)
	get := pipe.Get(ctx, s.keys.epoch)
	if _, err := pipe.Exec(ctx); err != nil {
		return "", wrapErr("ensure epoch", err)
	}
	return get.Val(), nil
}

// RotateEpoch starts a new log epoch: if the epoch still equals old (or is
// absent) it is replaced by a new random one. It returns the epoch now
// current, so when several nodes rotate from the same old epoch the first
// one wins and all of them agree on the result.
func (s *Store) RotateEpoch(ctx context.Context, old string) (string, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	cur, err := s.rotate.Run(ctx, s.rdb, []string{s.keys.epoch}, old, newEpoch()).Text()
	if err != nil {
		return "", wrapErr("rotate epoch", err)
	}
	s.log.Info("stream: epoch rotated", "key", s.keys.epoch, "old", old, "epoch", cur)
	return cur, nil
}

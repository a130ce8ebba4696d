package stream

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// renewLeaseLua extends the lease if KEYS[1] still holds ARGV[1] (the
// holder's token): PEXPIRE to ARGV[2] ms. Returns 1 when renewed, 0 when
// lost.
const renewLeaseLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0`

// releaseLeaseLua deletes the lease if KEYS[1] still holds ARGV[1].
const releaseLeaseLua = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`

// AcquireLease sets the lease {prefix}:ingest:lease to token for ttl if
// no one holds it (SET NX PX) and reports whether it did.
func (g *IngestGroup) AcquireLease(ctx context.Context, token string, ttl time.Duration) (bool, error) {
	ok, err := g.rdb.SetNX(ctx, g.keys.Lease, token, ttl).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, wrapErr("acquire lease", err)
	}
	return ok, nil
}

// RenewLease extends the lease to ttl if it still holds token, and
// reports whether it did (false: lost or taken over).
func (g *IngestGroup) RenewLease(ctx context.Context, token string, ttl time.Duration) (bool, error) {
	n, err := g.renew.Run(ctx, g.rdb, []string{g.keys.Lease}, token, ttl.Milliseconds()).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		return false, wrapErr("renew lease", err)
	}
	return n == 1, nil
}

// ReleaseLease deletes the lease if it still holds token.
func (g *IngestGroup) ReleaseLease(ctx context.Context, token string) error {
	if err := g.release.Run(ctx, g.rdb, []string{g.keys.Lease}, token).Err(); err != nil && !errors.Is(err, redis.Nil) {
		return wrapErr("release lease", err)
	}
	return nil
}

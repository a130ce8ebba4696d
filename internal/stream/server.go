package stream

import (
	"context"
	"errors"
	"fmt"
)

// ErrEvicting reports a Redis whose maxmemory-policy is not noeviction:
// under memory pressure it may drop the epoch or idempotency records
// (a silent new log epoch, a duplicate alarm) instead of refusing writes.
var ErrEvicting = errors.New("stream: redis maxmemory-policy is not noeviction")

// CheckServer reads the server's maxmemory-policy (CONFIG GET) and returns
// ErrEvicting unless it is noeviction. A server that refuses CONFIG (some
// managed services rename it) yields another error: the policy is unknown.
func (s *Store) CheckServer(ctx context.Context) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	v, err := s.rdb.ConfigGet(ctx, "maxmemory-policy").Result()
	if err != nil {
		return wrapErr("config get maxmemory-policy", err)
	}
	policy, ok := v["maxmemory-policy"]
	if !ok {
		return fmt.Errorf("stream: maxmemory-policy not reported")
	}
	if policy != "noeviction" {
		return fmt.Errorf("%w: it is %s", ErrEvicting, policy)
	}
	return nil
}

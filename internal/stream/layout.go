package stream

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// ErrLayout reports that Redis holds the logs of another number of
// partitions than the node's: the node must not start (it would publish
// where the other nodes' clients do not read).
var ErrLayout = errors.New("stream: redis holds another partition layout")

// CheckLayout makes sure the deployment in Redis has this Store's number
// of partitions, P. With P > 1 it records P in {prefix}:layout when the
// key is absent (SET NX), and refuses (ErrLayout) when the key holds
// another number, or when it is absent while the one-partition log
// {prefix}:stream exists: nodes with one partition are, or were, in use.
// With P = 1 it writes nothing (the keys stay those of versions without
// partitions) and refuses when {prefix}:layout holds another number.
// Other errors are Redis' (the caller retries).
func (s *Store) CheckLayout(ctx context.Context) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	layout, single := s.layoutKeys()
	want := strconv.Itoa(s.cfg.Partitions)
	got, err := s.rdb.Get(ctx, layout).Result()
	switch {
	case errors.Is(err, redis.Nil):
		got = ""
	case err != nil:
		return wrapErr("layout: get", err)
	}
	if got == want || (got == "" && s.cfg.Partitions == 1) {
		return nil
	}
	if got != "" {
		return fmt.Errorf("%w: %s says %s partitions, this node has %s (GATEWAY_PARTITIONS); "+
			"every node of a deployment needs the same number", ErrLayout, layout, got, want)
	}
	n, err := s.rdb.Exists(ctx, single).Result()
	if err != nil {
		return wrapErr("layout: exists", err)
	}
	if n > 0 {
		return fmt.Errorf("%w: %s exists (a deployment of one partition), this node has %s partitions; "+
			"use another GATEWAY_REDIS_PREFIX to start a partitioned deployment", ErrLayout, single, want)
	}
	ok, err := s.rdb.SetNX(ctx, layout, want, 0).Result()
	if err != nil {
		return wrapErr("layout: set", err)
	}
	if !ok { // another node wrote it meanwhile: check what it wrote
		return s.CheckLayout(ctx)
	}
	return nil
}

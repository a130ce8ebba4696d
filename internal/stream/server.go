package stream

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
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

// ErrFullCoverage reports a Redis Cluster master with
// cluster-require-full-coverage yes (Redis' default): while one master's
// slots are uncovered (its failure declared, its replica not yet
// promoted) it refuses every command, so a failover of one partition's
// master reaches the clients and publishes of every partition.
var ErrFullCoverage = errors.New("stream: a cluster master has cluster-require-full-coverage yes")

// CheckCoverage reads cluster-require-full-coverage on every master of a
// Redis Cluster (CONFIG GET) when the deployment has more than one
// partition, and returns ErrFullCoverage when a master has it on. It
// returns nil with one partition or without a Cluster; an error of
// another kind when a master refuses CONFIG.
func (s *Store) CheckCoverage(ctx context.Context) error {
	cc, ok := s.rdb.(*redis.ClusterClient)
	if !ok || s.cfg.Partitions <= 1 {
		return nil
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var mu sync.Mutex
	var on []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, m *redis.Client) error {
		v, err := m.ConfigGet(ctx, "cluster-require-full-coverage").Result()
		if err != nil {
			return wrapErr("config get cluster-require-full-coverage", err)
		}
		if v["cluster-require-full-coverage"] != "no" {
			mu.Lock()
			on = append(on, m.Options().Addr)
			mu.Unlock()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(on) > 0 {
		sort.Strings(on)
		return fmt.Errorf("%w: %s", ErrFullCoverage, strings.Join(on, ", "))
	}
	return nil
}

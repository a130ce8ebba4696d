package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// preflightTimeout bounds the Redis checks at start.
const preflightTimeout = 5 * time.Second

// redisReport is what the start checks found out about Redis.
type redisReport struct {
	// problems refuse the start, each naming its variable.
	problems []error
	// warnings do not: the node starts and logs them.
	warnings []warning
	// unreachable is set when Redis did not answer; the node starts
	// anyway (not ready until it does), check-config fails.
	unreachable error
}

// warning is a start check's finding that does not refuse the start.
type warning struct {
	msg  string
	loud bool // logged as an error: the guarantees are at risk
}

// checkRedis checks what the configuration promises against the Redis the
// store writes to:
//
//   - GATEWAY_MIN_REPLICAS: fewer replicas connected to the primary
//     (INFO replication) than required refuses the start, since every
//     publish would be answered 503. A rolling restart of the gateways
//     does not change the count; a restart while a replica is down waits
//     for it (the replaced nodes keep serving until then).
//   - the server must be a primary: a replica refuses every write.
//   - maxmemory-policy must be noeviction; another policy is a loud
//     warning (docs/operations.md), as a managed Redis may not let it be
//     changed or read.
//
// With several partitions each partition's primary is checked (on a
// Cluster they are several masters), and on a Cluster every master's
// cluster-require-full-coverage (a warning unless no); a finding is
// reported once.
func checkPartitions(ctx context.Context, stores []*stream.Store, minReplicas int) redisReport {
	var all redisReport
	seen := map[string]bool{}
	for _, s := range stores {
		r := checkRedis(ctx, s, minReplicas)
		for _, p := range r.problems {
			if !seen[p.Error()] {
				seen[p.Error()] = true
				all.problems = append(all.problems, p)
			}
		}
		for _, w := range r.warnings {
			if !seen[w.msg] {
				seen[w.msg] = true
				all.warnings = append(all.warnings, w)
			}
		}
		if r.unreachable != nil && all.unreachable == nil {
			all.unreachable = r.unreachable
		}
	}
	if len(stores) > 0 && all.unreachable == nil {
		ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
		defer cancel()
		switch err := stores[0].CheckCoverage(ctx); {
		case errors.Is(err, stream.ErrFullCoverage):
			all.warnings = append(all.warnings, warning{msg: fmt.Sprintf("set cluster-require-full-coverage no on every master: with it on, the failover of one partition's master stops every partition for a moment (new hellos 1013, publishes 503): %v", err)})
		case err != nil:
			all.warnings = append(all.warnings, warning{msg: fmt.Sprintf("could not check cluster-require-full-coverage (it should be no with partitions): %v", err)})
		}
	}
	return all
}

// checkRedis runs the checks of checkPartitions against one store's
// primary.
func checkRedis(ctx context.Context, s *stream.Store, minReplicas int) redisReport {
	ctx, cancel := context.WithTimeout(ctx, preflightTimeout)
	defer cancel()
	var r redisReport
	rep, err := s.Replication(ctx)
	switch {
	case errors.Is(err, stream.ErrUnavailable):
		r.unreachable = err
		return r
	case err != nil && minReplicas > 0:
		r.warnings = append(r.warnings, warning{msg: fmt.Sprintf("could not read INFO replication (%v): GATEWAY_MIN_REPLICAS=%d is not checked", err, minReplicas)})
	case err != nil:
	case rep.Role != "master":
		r.problems = append(r.problems, fmt.Errorf("GATEWAY_REDIS_URL: the server is a replica (role:%s) and refuses writes; point it at the primary", rep.Role))
	case rep.ConnectedReplicas < minReplicas:
		r.problems = append(r.problems, fmt.Errorf("GATEWAY_MIN_REPLICAS: %d required, but the primary has %d replicas connected (INFO replication): every publish would be answered 503; attach replicas or lower GATEWAY_MIN_REPLICAS",
			minReplicas, rep.ConnectedReplicas))
	}
	err = s.CheckServer(ctx)
	switch {
	case errors.Is(err, stream.ErrEvicting):
		r.warnings = append(r.warnings, warning{loud: true, msg: fmt.Sprintf("REDIS MAY EVICT KEYS: set maxmemory-policy noeviction; with eviction an epoch or idempotency record can vanish (a silent new log epoch, duplicate alarms): %v", err)})
	case errors.Is(err, stream.ErrUnavailable):
		r.unreachable = err
	case err != nil:
		r.warnings = append(r.warnings, warning{msg: fmt.Sprintf("could not check Redis maxmemory-policy (it must be noeviction): %v", err)})
	}
	return r
}

// preflight runs checkRedis at start: it refuses to start on a problem,
// logs each warning, and lets a node whose Redis is not reachable yet
// start (it reports not ready until Redis answers).
func preflight(ctx context.Context, stores []*stream.Store, cfg config, log *slog.Logger) error {
	r := checkPartitions(ctx, stores, cfg.MinReplicas)
	for _, w := range r.warnings {
		if w.loud {
			log.Error("gateway: " + w.msg)
		} else {
			log.Warn("gateway: " + w.msg)
		}
	}
	if r.unreachable != nil {
		log.Warn("gateway: Redis did not answer the start checks; starting anyway (not ready until it does)", "err", r.unreachable)
	}
	if len(r.problems) > 0 {
		return &configError{problems: r.problems}
	}
	return nil
}

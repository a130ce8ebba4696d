package node

import (
	"fmt"
	"log/slog"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/pubsub"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/transport"
)

// partition is what a node runs for one partition of the deployment
// (Config.Stream.Partitions, default 1): the log's store, the hub of its
// window and connections, the live feed that keeps the hub current, the
// pipeliner of its single publishes, the reader of its backlogs and,
// when configured, the consumer of its ingest stream. Serve runs the
// feed, pipeliner, backlog reader and consumer of every partition;
// Shutdown stops them.
type partition struct {
	store   *stream.Store
	hub     *hub.Hub
	feed    *pubsub.Feed
	live    *pubsub.Redis
	pipe    *stream.Pipeliner
	backlog *stream.BacklogReader
	ingest  *ingest.Consumer // nil when Config.Ingest is nil
}

// newPartitions builds the node's partitions and the router over their
// stores.
func newPartitions(cfg Config, rdb redis.UniversalClient, m *metrics.Metrics, log *slog.Logger) ([]*partition, *stream.Router, error) {
	n := max(cfg.Stream.Partitions, 1)
	parts := make([]*partition, n)
	stores := make([]*stream.Store, n)
	pipes := make([]*stream.Pipeliner, n)
	for k := range parts {
		p, err := newPartition(cfg, k, rdb, m, log)
		if err != nil {
			return nil, nil, err
		}
		parts[k], stores[k], pipes[k] = p, p.store, p.pipe
	}
	router, err := stream.NewRouter(stores, pipes)
	if err != nil {
		return nil, nil, err
	}
	return parts, router, nil
}

// newPartition builds partition k (its ingest consumer is added by
// addIngest, which needs the router).
func newPartition(cfg Config, k int, rdb redis.UniversalClient, m *metrics.Metrics, log *slog.Logger) (*partition, error) {
	sc := cfg.Stream
	sc.Partitions, sc.Partition = max(sc.Partitions, 1), k
	p := &partition{}
	var err error
	if p.store, err = stream.New(sc, rdb, log); err != nil {
		return nil, err
	}
	if p.hub, err = hub.New(cfg.hub(), m, log); err != nil {
		return nil, err
	}
	p.live = pubsub.NewRedis(p.store, rdb)
	if p.feed, err = pubsub.New(cfg.feed(), p.live, p.hub, m, log); err != nil {
		return nil, err
	}
	p.backlog = p.store.NewBacklogReader(0, func(int) { m.BacklogReads.Inc() })
	p.pipe = p.store.NewPipeliner(0)
	return p, nil
}

// transports returns the partitions as the transports serve them.
func transports(parts []*partition) []transport.Partition {
	ts := make([]transport.Partition, len(parts))
	for k, p := range parts {
		ts[k] = transport.Partition{Hub: p.hub, Feed: p.feed, Backfill: p.backlog}
	}
	return ts
}

// addIngest gives every partition a consumer of its ingest stream. They
// publish through router, so an entry reaches its channel's partition
// (every partition for a shared channel) whichever stream it was put in.
// Only partition 0's consumer bridges Config.Ingest.PubSubChannel.
func addIngest(cfg Config, parts []*partition, router *stream.Router, m *metrics.Metrics, log *slog.Logger) error {
	for k, p := range parts {
		ic := cfg.ingest()
		if k > 0 {
			ic.PubSubChannel = ""
		}
		deps := ingest.Deps{Store: p.store, PubSub: p.live, Metrics: m, Log: log}
		if len(parts) > 1 {
			deps.Publisher = router
		}
		c, err := ingest.New(ic, deps)
		if err != nil {
			return fmt.Errorf("partition %d: %w", k, err)
		}
		p.ingest = c
	}
	return nil
}

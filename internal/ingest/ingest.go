// Package ingest consumes the ingest stream {prefix}:ingest: alarms that
// applications append with XADD from their own Redis client, published by
// the gateways through the same atomic script as the HTTP API.
//
// Every node runs a Consumer in the consumer group "gateways", but only
// the holder of the lease {prefix}:ingest:lease reads: one reader at a
// time is what keeps the alarms of a channel in their ingest order (two
// nodes reading alternate batches would publish them interleaved). The
// others stand by and take the lease over when it expires. The holder
// first finishes the entries left pending by earlier holders, in id
// order, then reads new ones. Each entry is published with its own
// idempotency key or, without one, with its id as the key of a record in
// a namespace of its own ({prefix}:iidem:<entry id>, deleted with the
// entry's XACK), so an entry published by a node that died before XACK is
// not appended again when another node claims it: exactly once in the
// log.
//
// # Partitions
//
// With P partitions (stream.Config.Partitions) a node runs one Consumer
// per partition k, on partition k's *stream.Store: partition k's ingest
// stream {tag_k}:ingest, group and lease, so up to P nodes consume at
// once, one per partition. Each publishes what it reads through
// Deps.Publisher (the node's stream.Router), so an entry lands in its
// channel's partition, a shared channel's in every partition, whatever
// stream it was put in. An entry's own record is then written by the
// partition it is published in, under that partition's tag, and two
// partitions' streams can hold the same entry id: the record names the
// source partition too, {tag_t}:iidem:<k>:<entry id> (PublishInput.
// EntryPartition; with one partition the key stays {prefix}:iidem:<id>).
// The record can no longer be deleted by the script that acknowledges
// the entry (another slot): the script acknowledges, and only the entries
// still pending on this consumer, and the records of those are deleted
// next, in the channel's partition or in every one for a shared channel
// (stream.IngestGroup.Settle). Deleted after the XACK, never before, a
// record outlives its entry's last delivery: exactly once still holds;
// a crash between the two leaves records to expire after IdemTTL.
//
// The Pub/Sub bridge (Config.PubSubChannel) runs in one consumer per
// node, partition 0's: New refuses it on another partition. It appends to
// partition 0's ingest stream, whose consumer publishes each message into
// its channel's partition.
//
// The consumers of a node share its *metrics.Metrics: each adds its part
// to the gauges (lag, pending, leases held), which are thus sums over the
// node's partitions, and with one partition exactly what they were.
//
// The package is logic only: every Redis command it relies on is a method
// of stream.IngestGroup, and the Pub/Sub bridge listens through
// pubsub.Redis.
//
// docs/ingest.md documents the stream for applications.
package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultGroup      = "gateways"
	DefaultBatchSize  = 500
	DefaultParallel   = 4
	DefaultBlock      = time.Second
	DefaultClaimIdle  = 15 * time.Second
	DefaultLeaseTTL   = 10 * time.Second
	DefaultDeadMaxLen = 10000
	DefaultTrimEvery  = 5 * time.Second
	DefaultStatsEvery = 2 * time.Second
)

// Config configures a Consumer. Zero fields take the defaults stated here.
type Config struct {
	// NodeID is the consumer name in the group and part of the lease
	// value. Required.
	NodeID string
	// Group is the consumer group. Default DefaultGroup ("gateways").
	Group string
	// BatchSize is the COUNT of each XREADGROUP and the most entries
	// published in one pipeline. Default DefaultBatchSize (500).
	BatchSize int64
	// Parallel is how many publish pipelines one batch is split into (by
	// channel, so each channel keeps its order). Default DefaultParallel.
	Parallel int
	// Block is the BLOCK of XREADGROUP; it must stay below the store's
	// call timeout. Default DefaultBlock (1s).
	Block time.Duration
	// ClaimIdle is how long an entry must have been pending on another
	// consumer before the lease holder claims it. Default
	// DefaultClaimIdle (15s).
	ClaimIdle time.Duration
	// LeaseTTL is the life of the lease; its holder renews it every third
	// of it. Default DefaultLeaseTTL (10s).
	LeaseTTL time.Duration
	// DeadMaxLen caps the dead-letter stream (XADD MAXLEN ~). Default
	// DefaultDeadMaxLen (10000).
	DeadMaxLen int64
	// TrimEvery is how often the lease holder trims the ingest stream
	// behind the group's acknowledgements. Default DefaultTrimEvery (5s).
	TrimEvery time.Duration
	// StatsEvery is how often each node samples lag and pending into the
	// metrics. Default DefaultStatsEvery (2s).
	StatsEvery time.Duration
	// PubSubChannel, when set, is a plain Pub/Sub channel whose messages
	// (the JSON body of POST /v1/publish) the lease holder forwards into
	// the ingest stream: at most once. With partitions, set it on
	// partition 0's Consumer only (New refuses it on another): the
	// bridge must run once per node. Default empty (off).
	PubSubChannel string
}

// Publisher publishes a batch of alarms; *stream.Store and stream.Router
// are ones. PublishBatch must use ctx's deadline as the script's deadline
// (refusing to write after it), so that no publish of a holder whose
// lease has expired can land, and return one result and one error per
// input, in order (stream.Store.PublishBatch's contract).
type Publisher interface {
	PublishBatch(ctx context.Context, ins []stream.PublishInput) ([]stream.PublishResult, []error)
}

// Store is what a Consumer needs of the stream store of its partition,
// which makes every Redis call; *stream.Store is one. Its PublishBatch
// publishes unless Deps.Publisher is set.
type Store interface {
	Publisher
	// IngestGroup returns the commands of a consumer group of the ingest
	// stream, its dead letters capped at deadMaxLen.
	IngestGroup(name string, deadMaxLen int64) *stream.IngestGroup
	Timeout() time.Duration
}

// Listener delivers the messages of a plain Pub/Sub channel until ctx
// ends; *pubsub.Redis is one.
type Listener interface {
	Listen(ctx context.Context, channel string, handle func(payload string))
}

// Deps are a Consumer's collaborators. Store and Metrics are required,
// and PubSub when Config.PubSubChannel is set; a nil Log discards, a nil
// Now is time.Now. Several Consumers (one per partition) may share
// Metrics, PubSub and Publisher.
type Deps struct {
	// Store is the store of the partition whose ingest stream the
	// Consumer reads (stream.Config.Partition).
	Store Store
	// Publisher publishes the entries: with more than one partition the
	// node's stream.Router (required then), so that each lands in its
	// channel's partition. nil: Store publishes (one partition).
	Publisher Publisher
	PubSub    Listener
	Metrics   *metrics.Metrics
	Log       *slog.Logger
	Now       func() time.Time
}

// Consumer consumes one partition's ingest stream on behalf of one node.
// Run it once.
type Consumer struct {
	cfg      Config
	store    Store
	pub      Publisher // Deps.Publisher, else store
	group    *stream.IngestGroup
	part     int      // the partition whose ingest stream this is
	listener Listener // nil unless PubSubChannel is set
	m        metrics.Ingest
	log      *slog.Logger
	now      func() time.Time
	lease    *lease

	// Owned by Run's goroutine.
	lag, pending, leader metrics.GaugeShare // this consumer's parts of the gauges
	groupOK              bool               // the group is known to exist
	failing              bool               // the last Redis step failed (later failures log at debug)
	nextTrim             time.Time          // when the holder trims next
	nextStats            time.Time          // when the metrics are sampled next
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined. New also
// refuses a Block not below its store's call timeout.
func (c Config) Validate() error {
	return errors.Join(
		defaults.Required("NodeID", c.NodeID != ""),
		defaults.NonNegative("BatchSize", c.BatchSize),
		defaults.NonNegative("Parallel", c.Parallel),
		defaults.Min("Block", c.Block, time.Millisecond),
		defaults.Min("ClaimIdle", c.ClaimIdle, time.Millisecond),
		defaults.Min("LeaseTTL", c.LeaseTTL, 3*time.Millisecond),
		defaults.NonNegative("DeadMaxLen", c.DeadMaxLen),
		defaults.Min("TrimEvery", c.TrimEvery, time.Millisecond),
		defaults.Min("StatsEvery", c.StatsEvery, time.Millisecond),
	)
}

// New validates cfg, applies defaults and returns a Consumer. It does not
// contact Redis.
func New(cfg Config, d Deps) (*Consumer, error) {
	if d.Store == nil || d.Metrics == nil || (cfg.PubSubChannel != "" && d.PubSub == nil) {
		return nil, errors.New("ingest: Store and Metrics are required, and PubSub with a PubSubChannel")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ingest: invalid config: %w", err)
	}
	defaults.Set(&cfg.Group, DefaultGroup)
	defaults.Set(&cfg.BatchSize, DefaultBatchSize)
	defaults.Set(&cfg.Parallel, DefaultParallel)
	defaults.Set(&cfg.Block, DefaultBlock)
	defaults.Set(&cfg.ClaimIdle, DefaultClaimIdle)
	defaults.Set(&cfg.LeaseTTL, DefaultLeaseTTL)
	defaults.Set(&cfg.DeadMaxLen, DefaultDeadMaxLen)
	defaults.Set(&cfg.TrimEvery, DefaultTrimEvery)
	defaults.Set(&cfg.StatsEvery, DefaultStatsEvery)
	if cfg.Block >= d.Store.Timeout() {
		return nil, fmt.Errorf("ingest: invalid config: %w", defaults.Errorf("Block",
			"must be below the store's call timeout %v (got %v)", d.Store.Timeout(), cfg.Block))
	}
	if d.Log == nil {
		d.Log = slog.New(slog.DiscardHandler)
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	c := &Consumer{
		cfg: cfg, store: d.Store, pub: d.Publisher, group: d.Store.IngestGroup(cfg.Group, cfg.DeadMaxLen),
		listener: d.PubSub, m: d.Metrics.Ingest, log: d.Log, now: d.Now,
	}
	if err := c.partitioned(); err != nil {
		return nil, err
	}
	c.lag, c.pending, c.leader = metrics.NewGaugeShare(c.m.Lag), metrics.NewGaugeShare(c.m.Pending), metrics.NewGaugeShare(c.m.Leader)
	c.lease = newLease(c)
	return c, nil
}

// partitioned sets what depends on the Store's partition: the publisher
// (required with more than one partition: the Store alone would publish
// every entry into its own partition), the partition, logged with every
// line when there are several, and the bridge, partition 0's only.
func (c *Consumer) partitioned() error {
	k, partitions := c.group.Partition()
	c.part = k
	if c.pub == nil {
		if partitions > 1 {
			return fmt.Errorf("ingest: a Publisher (the node's stream.Router) is required with %d partitions", partitions)
		}
		c.pub = c.store
	}
	if partitions > 1 {
		c.log = c.log.With("partition", k)
	}
	if c.cfg.PubSubChannel != "" && k != 0 {
		return fmt.Errorf("ingest: invalid config: %w", defaults.Errorf("PubSubChannel",
			"only partition 0's consumer runs the Pub/Sub bridge (this one reads partition %d)", k))
	}
	return nil
}

// errWait means the holder must wait: entries are pending on another
// consumer and not yet idle for ClaimIdle, or Redis failed.
var errWait = errors.New("ingest: waiting")

// Run consumes until ctx ends, then releases the lease (if held) and
// returns nil. It owns the Pub/Sub bridge's goroutine when PubSubChannel
// is set and waits for it.
func (c *Consumer) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	if c.cfg.PubSubChannel != "" {
		wg.Go(func() { c.bridge(ctx) })
	}
	defer wg.Wait()
	defer c.lease.release()
	defer func() { c.lag.Set(0); c.pending.Set(0) }()
	idle := min(c.cfg.LeaseTTL/3, time.Second)
	for ctx.Err() == nil {
		c.maintain(ctx)
		if !c.lease.hold(ctx) {
			sleep(ctx, idle)
			continue
		}
		err := c.step(ctx)
		switch {
		case err == nil:
			c.failing = false
		case errors.Is(err, errWait):
			sleep(ctx, idle)
		default:
			if ctx.Err() == nil {
				c.failed("ingest: consuming failed; retrying", err)
			}
			sleep(ctx, idle)
		}
	}
	return nil
}

// step claims the entries pending on earlier holders or, when none are
// pending, reads new ones, and handles them. It returns errWait (or a
// Redis error) when the loop should pause.
func (c *Consumer) step(ctx context.Context) error {
	if !c.groupOK {
		return errWait
	}
	msgs, err := c.claimPending(ctx)
	if err != nil {
		return err
	}
	if msgs == nil {
		if msgs, err = c.readNew(ctx); err != nil {
			return err
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	return c.handle(ctx, msgs)
}

// maintain creates the group until that succeeds, samples the metrics and,
// on the holder, trims the stream, each at its own interval.
func (c *Consumer) maintain(ctx context.Context) {
	now := c.now()
	if !c.groupOK {
		if err := c.ensureGroup(ctx); err != nil {
			c.failed("ingest: creating the consumer group failed; retrying", err)
			return
		}
		c.groupOK = true
	}
	if !now.Before(c.nextStats) {
		c.nextStats = now.Add(c.cfg.StatsEvery)
		if err := c.sampleStats(ctx); err != nil {
			c.log.Debug("ingest: sampling the group", "err", err)
		}
	}
	if c.lease.valid() && !now.Before(c.nextTrim) {
		c.nextTrim = now.Add(c.cfg.TrimEvery)
		if err := c.trim(ctx); err != nil {
			c.log.Debug("ingest: trimming", "err", err)
		}
	}
}

// failed logs a Redis failure: at warn level the first of a series, at
// debug level the others (a Redis outage would log every second).
func (c *Consumer) failed(msg string, err error) {
	level := slog.LevelWarn
	if c.failing {
		level = slog.LevelDebug
	}
	c.failing = true
	c.log.Log(context.Background(), level, msg, "err", err)
}

// callCtx bounds one Redis call by the store's timeout plus extra.
func (c *Consumer) callCtx(ctx context.Context, extra time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.store.Timeout()+extra)
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

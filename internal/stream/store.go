package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultPrefix        = "alarms"
	DefaultMaxLen        = 100000
	DefaultRetention     = 24 * time.Hour
	DefaultIdemTTL       = 24 * time.Hour
	DefaultMaxAlarmBytes = 64 << 10
	DefaultTimeout       = 3 * time.Second
	DefaultPageSize      = 1000
	// DefaultChannelBacklog is the depth of each channel's backlog: a full
	// page of GET /v1/alarms, and for a user who gets a few alarms a minute
	// several hours of absence.
	DefaultChannelBacklog = 1000
	// DefaultInboxRetention is how long an inbox keeps an alarm, and an
	// inbox without a publish or change lives.
	DefaultInboxRetention = 30 * 24 * time.Hour
	// DefaultStateEvents is how many recent state events each inbox keeps
	// for resumes.
	DefaultStateEvents = 100
	// DefaultReplicaTimeout bounds the WAIT of a publish with MinReplicas.
	DefaultReplicaTimeout = time.Second
)

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,64}$`)

// Config configures a Store. Zero fields take the defaults stated here.
type Config struct {
	// Prefix names the key family {Prefix}:stream, {Prefix}:epoch,
	// {Prefix}:idem:<key>, {Prefix}:ch:<channel> and the Pub/Sub channels {Prefix}:live and
	// {Prefix}:live:probe:<node> (the layout is in keys.go). The braces
	// are a Redis Cluster hash tag. Must match ^[A-Za-z0-9_.:-]{1,64}$.
	// Default "alarms".
	Prefix string
	// MaxLen is the approximate stream cap (XADD MAXLEN ~). Default 100000.
	MaxLen int64
	// Retention is the age of the oldest alarm kept (XTRIM MINID ~ on each
	// publish). Approximate like MaxLen. Default 24h.
	Retention time.Duration
	// IdemTTL is how long an idempotency record lives. Default 24h.
	IdemTTL time.Duration
	// MaxAlarmBytes caps the encoded frame tail (channel, event, data).
	// Default 65536.
	MaxAlarmBytes int
	// Timeout bounds each Redis call when ctx has no earlier deadline.
	// Default 3s. The client should set ContextTimeoutEnabled so socket
	// reads honour it.
	Timeout time.Duration
	// ChannelBacklog is how many alarms each channel's backlog keeps
	// ({Prefix}:ch:<channel>, a list that expires after Retention without a
	// publish; an inbox's after InboxRetention). Resumes from further back
	// than a node's window, and history queries, read it; it also caps an
	// inbox. It counts alarms only: an inbox's state events are kept apart
	// (StateEvents). Default DefaultChannelBacklog.
	ChannelBacklog int64
	// InboxRetention is how long an inbox (channel user:<sub>) keeps an
	// alarm: at least that long, up to its ChannelBacklog; an older alarm
	// goes at the inbox's next publish or change, and an inbox without
	// either expires whole. Independent of Retention. Default
	// DefaultInboxRetention (30 days).
	InboxRetention time.Duration
	// StateEvents is how many of its newest state events each inbox keeps
	// ({Prefix}:se:<channel>, up to an eighth more between trims) for
	// resumes: a resume from before the oldest of them is not resumed and
	// the client reloads the inbox. Default DefaultStateEvents.
	StateEvents int64
	// PageSize is the COUNT of each XRANGE/XREVRANGE page in bulk reads
	// (LoadWindow). Default 1000.
	PageSize int64
	// ShardedPubSub sends the live and probe channels with SPUBLISH and
	// receives them with SSUBSCRIBE (Redis 7), so that on a Cluster they
	// stay on the shard of {Prefix} instead of being copied to every node.
	// Every node of a deployment must agree. Default off.
	ShardedPubSub bool
	// MinReplicas, when above 0, makes every publish wait (WAIT, on the
	// connection that ran the script) until that many replicas confirmed
	// it; fewer within ReplicaTimeout fails the call with ErrNotReplicated
	// (the alarm is stored on the primary: outcome unknown). Default 0.
	MinReplicas int
	// ReplicaTimeout bounds that WAIT. Default DefaultReplicaTimeout.
	ReplicaTimeout time.Duration
	// Partitions is the number of partitions of the deployment's log,
	// each under its own hash tag so that a Redis Cluster spreads them
	// over its masters (keys.go, partitionTag); an inbox channel lives in
	// one of them, every other channel in all (PartitionOf). 1 is the
	// single log under {Prefix}, the layout of earlier versions. At most
	// MaxPartitions. Every node of a deployment must agree. Default
	// DefaultPartitions (1).
	Partitions int
	// Partition is the partition this Store reads and writes: 0 <=
	// Partition < Partitions. Default 0.
	Partition int
}

// Store is the alarm log of one partition of one prefix. It is safe for concurrent use; its
// only mutable state is the clock offset Tip measures.
type Store struct {
	cfg         Config
	rdb         redis.UniversalClient
	log         *slog.Logger
	publish     *redis.Script
	rotate      *redis.Script
	backlogRead *redis.Script
	state       *redis.Script
	page        *redis.Script
	keys        keys   // every key and channel name (keys.go)
	tag         string // the hash tag of keys, braces included
	// skew is Redis' clock minus this node's, in ns, as the latest Tip
	// measured it (atomic: Tip writes, publishes read). It turns a
	// caller's deadline into Redis' time for the publish script.
	skew atomic.Int64
}

// New validates cfg, applies defaults and returns a Store. It does not
// contact Redis. A nil log discards log output.
func New(cfg Config, rdb redis.UniversalClient, log *slog.Logger) (*Store, error) {
	if rdb == nil {
		return nil, fmt.Errorf("stream: nil redis client")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("stream: invalid config: %w", err)
	}
	cfg.applyDefaults()
	tag, err := partitionTag(cfg.Prefix, cfg.Partitions, cfg.Partition)
	if err != nil {
		return nil, fmt.Errorf("stream: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{
		cfg:         cfg,
		rdb:         rdb,
		log:         log,
		publish:     redis.NewScript(logLua + inboxLua + publishLua),
		state:       redis.NewScript(logLua + inboxLua + stateLua),
		page:        redis.NewScript(logLua + inboxLua + inboxPageLua),
		rotate:      redis.NewScript(rotateLua),
		backlogRead: redis.NewScript(backlogLua),
		keys:        newKeys(tag),
		tag:         tag,
	}, nil
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c Config) Validate() error {
	errs := []error{
		defaults.NonNegative("MaxLen", c.MaxLen),
		defaults.Min("Retention", c.Retention, time.Millisecond),
		defaults.Min("IdemTTL", c.IdemTTL, time.Millisecond),
		defaults.NonNegative("MaxAlarmBytes", c.MaxAlarmBytes),
		defaults.Min("Timeout", c.Timeout, time.Millisecond),
		defaults.NonNegative("PageSize", c.PageSize),
		defaults.NonNegative("ChannelBacklog", c.ChannelBacklog),
		defaults.Min("InboxRetention", c.InboxRetention, time.Millisecond),
		defaults.NonNegative("StateEvents", c.StateEvents),
		defaults.NonNegative("MinReplicas", c.MinReplicas),
		defaults.Min("ReplicaTimeout", c.ReplicaTimeout, time.Millisecond),
		defaults.Min("Partitions", c.Partitions, 1),
		defaults.NonNegative("Partition", c.Partition),
	}
	if c.Prefix != "" && !prefixRE.MatchString(c.Prefix) {
		errs = append(errs, defaults.Errorf("Prefix", "%q must match %s", c.Prefix, prefixRE))
	}
	eff := c
	eff.applyDefaults()
	if c.MinReplicas > 0 && c.ReplicaTimeout >= 0 && c.Timeout >= 0 && eff.ReplicaTimeout >= eff.Timeout {
		errs = append(errs, defaults.Errorf("ReplicaTimeout", "must be below the Redis call timeout %v when replicas are required (got %v)",
			eff.Timeout, eff.ReplicaTimeout))
	}
	return errors.Join(append(errs, c.validatePartitions(eff)...)...)
}

// validatePartitions refuses more than MaxPartitions, and a Partition
// beyond the (effective, valid) Partitions.
func (c Config) validatePartitions(eff Config) []error {
	if c.Partitions > MaxPartitions {
		return []error{defaults.Errorf("Partitions", "must be at most %d (got %d)", MaxPartitions, c.Partitions)}
	}
	if eff.Partitions >= 1 && c.Partition >= eff.Partitions {
		return []error{defaults.Errorf("Partition", "must be below Partitions %d (got %d)", eff.Partitions, c.Partition)}
	}
	return nil
}

func (c *Config) applyDefaults() {
	defaults.Set(&c.Prefix, DefaultPrefix)
	defaults.Set(&c.MaxLen, DefaultMaxLen)
	defaults.Set(&c.Retention, DefaultRetention)
	defaults.Set(&c.IdemTTL, DefaultIdemTTL)
	defaults.Set(&c.MaxAlarmBytes, DefaultMaxAlarmBytes)
	defaults.Set(&c.Timeout, DefaultTimeout)
	defaults.Set(&c.PageSize, DefaultPageSize)
	defaults.Set(&c.ChannelBacklog, DefaultChannelBacklog)
	defaults.Set(&c.InboxRetention, DefaultInboxRetention)
	defaults.Set(&c.StateEvents, DefaultStateEvents)
	defaults.Set(&c.ReplicaTimeout, DefaultReplicaTimeout)
	defaults.Set(&c.Partitions, DefaultPartitions)
}

// PageSize is the COUNT of the store's bulk reads (Config.PageSize with
// its default applied); a feed's gap fill pages by it too.
func (s *Store) PageSize() int64 { return s.cfg.PageSize }

// callCtx bounds one Redis call by the configured Timeout (or ctx's own
// earlier deadline).
func (s *Store) callCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// newEpoch returns a random epoch: 16 lowercase hex characters.
func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b[:])
}

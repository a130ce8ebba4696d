package stream

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// DefaultChannelHistory is the depth of each channel's history: a full
	// page of GET /v1/alarms, and for a user who gets a few alarms a minute
	// several hours of absence.
	DefaultChannelHistory = 1000
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
	// ChannelHistory is how many alarms each channel's own history keeps
	// ({Prefix}:ch:<channel>, a list that expires after Retention without a
	// publish). Resumes from further back than a node's window, and history
	// queries, read it. Default DefaultChannelHistory.
	ChannelHistory int64
	// PageSize is the COUNT of each XRANGE/XREVRANGE page in bulk reads
	// (LoadWindow, History). Default 1000.
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
}

// Store is the alarm log of one prefix. It is safe for concurrent use; its
// only mutable state is the clock offset Tip measures.
type Store struct {
	cfg      Config
	rdb      redis.UniversalClient
	log      *slog.Logger
	publish  *redis.Script
	rotate   *redis.Script
	chanRead *redis.Script
	state    *redis.Script
	keys     keys // every key and channel name (keys.go)
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
	if err := cfg.withDefaults(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Store{
		cfg:      cfg,
		rdb:      rdb,
		log:      log,
		publish:  redis.NewScript(logLua + inboxLua + publishLua),
		state:    redis.NewScript(logLua + inboxLua + stateLua),
		rotate:   redis.NewScript(rotateLua),
		chanRead: redis.NewScript(chanhistLua),
		keys:     newKeys(cfg.Prefix),
	}, nil
}

func (c *Config) withDefaults() error {
	defaults.Set(&c.Prefix, DefaultPrefix)
	if !prefixRE.MatchString(c.Prefix) {
		return fmt.Errorf("stream: invalid prefix %q: must match %s", c.Prefix, prefixRE)
	}
	type check struct {
		bad  bool
		name string
	}
	for _, ch := range []check{
		{c.MaxLen < 0, "MaxLen"},
		{c.Retention < 0 || (c.Retention > 0 && c.Retention < time.Millisecond), "Retention"},
		{c.IdemTTL < 0 || (c.IdemTTL > 0 && c.IdemTTL < time.Millisecond), "IdemTTL"},
		{c.MaxAlarmBytes < 0, "MaxAlarmBytes"},
		{c.Timeout < 0, "Timeout"},
		{c.PageSize < 0, "PageSize"},
		{c.ChannelHistory < 0, "ChannelHistory"},
		{c.MinReplicas < 0, "MinReplicas"},
		{c.ReplicaTimeout < 0 || (c.ReplicaTimeout > 0 && c.ReplicaTimeout < time.Millisecond), "ReplicaTimeout"},
	} {
		if ch.bad {
			return fmt.Errorf("stream: invalid config: %s out of range", ch.name)
		}
	}
	defaults.Set(&c.MaxLen, DefaultMaxLen)
	defaults.Set(&c.Retention, DefaultRetention)
	defaults.Set(&c.IdemTTL, DefaultIdemTTL)
	defaults.Set(&c.MaxAlarmBytes, DefaultMaxAlarmBytes)
	defaults.Set(&c.Timeout, DefaultTimeout)
	defaults.Set(&c.PageSize, DefaultPageSize)
	defaults.Set(&c.ChannelHistory, DefaultChannelHistory)
	defaults.Set(&c.ReplicaTimeout, DefaultReplicaTimeout)
	if c.MinReplicas > 0 && c.ReplicaTimeout >= c.Timeout {
		return fmt.Errorf("stream: invalid config: ReplicaTimeout %v must be below Timeout %v", c.ReplicaTimeout, c.Timeout)
	}
	return nil
}

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

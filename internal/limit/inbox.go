package limit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// Defaults of UserConfig, applied by NewInbox to zero fields.
const (
	DefaultUserStateRate      = 20.0
	DefaultUserStateBurst     = 40
	DefaultUserInboxReadRate  = 10.0
	DefaultUserInboxReadBurst = 20
)

// UserConfig sets the per-user limits of a node. Each user (an inbox
// channel, user:<sub>) has one bucket per limit on the node, shared by all
// the user's connections and credentials: WebSocket sessions, requests
// with the user's token and requests with an API key for the user.
type UserConfig struct {
	// StateRate is the state changes per second a user may make, with
	// StateBurst at once. Defaults DefaultUserStateRate (20) and
	// DefaultUserStateBurst (40); a negative rate: no limit.
	StateRate  float64
	StateBurst int
	// InboxReadRate is the inbox reads (GET /v1/inbox) per second a user
	// may make, with InboxReadBurst at once. Defaults
	// DefaultUserInboxReadRate (10) and DefaultUserInboxReadBurst (20); a
	// negative rate: no limit.
	InboxReadRate  float64
	InboxReadBurst int
}

// InboxStore is the inbox state an Inbox guards; *stream.Store implements
// it.
type InboxStore interface {
	ChangeState(ctx context.Context, channel string, c protocol.StateChange) (stream.StateResult, error)
	ReadInbox(ctx context.Context, channel string, q stream.InboxQuery) (stream.Inbox, error)
}

var _ InboxStore = (*stream.Store)(nil)

// ErrLimited is what a *LimitedError is (errors.Is).
var ErrLimited = errors.New("limit: rate limited")

// LimitedError refuses a call over its user's rate.
type LimitedError struct {
	// Wait is how long until the user's bucket has a token again.
	Wait time.Duration
}

func (e *LimitedError) Error() string {
	return "limit: rate limited; retry in " + e.Wait.String()
}

// Is makes errors.Is(err, ErrLimited) hold.
func (e *LimitedError) Is(target error) bool { return target == ErrLimited }

// Inbox is a node's InboxStore as its transports see it: it applies the
// per-user limits before the store, and coalesces repeated state changes
// (see ChangeState). One Inbox serves every transport of a node, so a
// user's buckets are shared by all of them. It is safe for concurrent use.
type Inbox struct {
	store   InboxStore
	m       *metrics.Metrics
	changes *Keyed[string] // state changes per inbox channel
	reads   *Keyed[string] // inbox reads per inbox channel
	serial  Serial[string, stream.StateResult]
}

var _ InboxStore = (*Inbox)(nil)

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c UserConfig) Validate() error {
	state := Rate{PerSecond: c.StateRate, Burst: c.StateBurst}.Validate()
	read := Rate{PerSecond: c.InboxReadRate, Burst: c.InboxReadBurst}.Validate()
	return errors.Join(
		defaults.Rename(defaults.Rename(state, "PerSecond", "StateRate"), "Burst", "StateBurst"),
		defaults.Rename(defaults.Rename(read, "PerSecond", "InboxReadRate"), "Burst", "InboxReadBurst"),
	)
}

// NewInbox validates cfg and returns store guarded by its limits. now is
// the clock (time.Now when nil); a nil m gets private metrics.
func NewInbox(cfg UserConfig, store InboxStore, m *metrics.Metrics, now func() time.Time) (*Inbox, error) {
	if store == nil {
		return nil, errors.New("limit: nil inbox store")
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("limit: invalid user config: %w", err)
	}
	defaults.Set(&cfg.StateRate, DefaultUserStateRate)
	defaults.Set(&cfg.StateBurst, DefaultUserStateBurst)
	defaults.Set(&cfg.InboxReadRate, DefaultUserInboxReadRate)
	defaults.Set(&cfg.InboxReadBurst, DefaultUserInboxReadBurst)
	if m == nil {
		m = metrics.New(nil)
	}
	return &Inbox{store: store, m: m,
		changes: NewKeyed[string](Rate{PerSecond: cfg.StateRate, Burst: cfg.StateBurst}, now),
		reads:   NewKeyed[string](Rate{PerSecond: cfg.InboxReadRate, Burst: cfg.InboxReadBurst}, now),
	}, nil
}

// ChangeState takes a token from the channel's state bucket, or returns a
// *LimitedError, then applies c. A user's changes reach the store one at
// a time (per node); a change identical to one of the same user that is
// still waiting for its turn joins it and is answered, without a call of
// its own, as that change followed at once by this one: changed 0, no
// event id, the counts after it (see docs/protocol.md, "Coalescing").
func (in *Inbox) ChangeState(ctx context.Context, channel string, c protocol.StateChange) (stream.StateResult, error) {
	if ok, wait := in.changes.Allow(channel); !ok {
		in.m.Limited.WithLabelValues(metrics.LimitStateRate).Inc()
		return stream.StateResult{}, &LimitedError{Wait: wait}
	}
	res, joined, err := in.serial.Do(ctx, channel, changeKey(c), func(ctx context.Context) (stream.StateResult, error) {
		return in.store.ChangeState(ctx, channel, c)
	})
	if err != nil || !joined {
		return res, err
	}
	in.m.StateCoalesced.Inc()
	return stream.StateResult{Counts: res.Counts, Epoch: res.Epoch}, nil
}

// ReadInbox takes a token from the channel's read bucket, or returns a
// *LimitedError, then reads the inbox.
func (in *Inbox) ReadInbox(ctx context.Context, channel string, q stream.InboxQuery) (stream.Inbox, error) {
	if ok, wait := in.reads.Allow(channel); !ok {
		in.m.Limited.WithLabelValues(metrics.LimitInboxReadRate).Inc()
		return stream.Inbox{}, &LimitedError{Wait: wait}
	}
	return in.store.ReadInbox(ctx, channel, q)
}

// changeKey is c's identity: two changes with the same key are the same
// change.
func changeKey(c protocol.StateChange) string {
	var b strings.Builder
	b.WriteString(strconv.Quote(c.Op))
	b.WriteString(strconv.Quote(c.UpTo))
	for _, id := range c.IDs {
		b.WriteString(strconv.Quote(id))
	}
	return b.String()
}

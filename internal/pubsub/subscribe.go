package pubsub

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// EventKind says what a Subscription delivered.
type EventKind int

// The kinds of Event.
const (
	// EventSubscribed: Redis confirmed both channels (after the first
	// subscribe and after every reconnect). Anything published from now
	// on is delivered, so this is the moment to read the stream.
	EventSubscribed EventKind = iota + 1
	// EventMessage: an alarm message from the live channel; Payload is
	// "<epoch>\n<alarm message>" as publish.lua sends it.
	EventMessage
	// EventProbe: the node's own probe came back; Payload is what Probe
	// published.
	EventProbe
)

// String returns the kind's name.
func (k EventKind) String() string {
	switch k {
	case EventSubscribed:
		return "subscribed"
	case EventMessage:
		return "message"
	case EventProbe:
		return "probe"
	}
	return fmt.Sprintf("EventKind(%d)", int(k))
}

// Event is one delivery of a Subscription.
type Event struct {
	Kind    EventKind
	Payload string // EventMessage and EventProbe only
}

// Subscription is a node's subscription to the live channel and its own
// probe channel. Receive is called from one goroutine; Close may be called
// from another to end a blocked Receive.
type Subscription interface {
	// Receive blocks until the next event or until ctx ends. After an
	// error the next call reconnects and resubscribes (which delivers a
	// new EventSubscribed); callers should pause briefly between errors.
	Receive(ctx context.Context) (Event, error)
	// Close ends the subscription and its connection.
	Close() error
}

// ErrShardMoved reports that Redis ended a sharded subscription
// (sunsubscribe): the slot of {prefix} moved to another node, or the node
// was demoted in a failover. The next Receive subscribes again on the
// slot's current owner, which delivers a new EventSubscribed.
var ErrShardMoved = errors.New("pubsub: sharded subscription ended by redis (slot moved or failover)")

// Redis is the Store of a running node: the log reads of a stream.Store
// and, over the same Redis, the node's live subscription and probes. The
// channel names and the choice of sharded Pub/Sub come from the stream
// store (internal/stream/keys.go). It is safe for concurrent use.
type Redis struct {
	*stream.Store
	rdb redis.UniversalClient
}

// NewRedis returns the Store of store, whose client rdb is.
func NewRedis(store *stream.Store, rdb redis.UniversalClient) *Redis {
	return &Redis{Store: store, rdb: rdb}
}

// Subscribe subscribes to the live channel and node nodeID's probe channel
// (SSUBSCRIBE when the store uses sharded Pub/Sub) and returns the
// subscription; the caller closes it. The initial subscribe is bounded by
// the store's Timeout; if it fails, the first Receive reconnects and
// reports the outcome.
func (r *Redis) Subscribe(ctx context.Context, nodeID string) Subscription {
	sub := &subscription{r: r, live: r.LiveChannel(), probe: r.ProbeChannel(nodeID)}
	sub.ps = sub.open(ctx)
	return sub
}

// Probe publishes payload on node nodeID's probe channel; the node's own
// Subscription delivers it back as EventProbe, proving that it delivers.
func (r *Redis) Probe(ctx context.Context, nodeID, payload string) error {
	ctx, cancel := context.WithTimeout(ctx, r.Timeout())
	defer cancel()
	channel := r.ProbeChannel(nodeID)
	publish := r.rdb.Publish
	if r.ShardedPubSub() {
		publish = r.rdb.SPublish
	}
	if err := publish(ctx, channel, payload).Err(); err != nil {
		return fmt.Errorf("pubsub: probe %s: %w", channel, stream.MarkUnavailable(err))
	}
	return nil
}

// subscription adapts a go-redis PubSub to Subscription.
type subscription struct {
	r           *Redis
	live, probe string

	mu     sync.Mutex    // guards ps and closed
	ps     *redis.PubSub // nil after a sharded subscription ended
	closed bool
}

// open subscribes a new PubSub to both channels.
func (s *subscription) open(ctx context.Context) *redis.PubSub {
	ctx, cancel := context.WithTimeout(ctx, s.r.Timeout())
	defer cancel()
	if s.r.ShardedPubSub() {
		return s.r.rdb.SSubscribe(ctx, s.live, s.probe)
	}
	return s.r.rdb.Subscribe(ctx, s.live, s.probe)
}

// current returns the PubSub to read, opening a new one after a sharded
// subscription ended.
func (s *subscription) current(ctx context.Context) (*redis.PubSub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("pubsub: subscription: %w", stream.MarkUnavailable(redis.ErrClosed))
	}
	if s.ps == nil {
		s.ps = s.open(ctx)
	}
	return s.ps, nil
}

// drop closes ps after Redis ended its sharded subscription: go-redis
// would otherwise keep reading a connection that no longer delivers.
func (s *subscription) drop(ps *redis.PubSub) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ps == ps {
		s.ps = nil
	}
	_ = ps.Close()
}

// Receive has no deadline of its own: it waits for pushes for as long as
// ctx lives. The caller proves the subscription alive with probes and
// closes it when they stop coming back. An sunsubscribe push (Redis ended
// the sharded subscription) is returned as ErrShardMoved.
func (s *subscription) Receive(ctx context.Context) (Event, error) {
	ps, err := s.current(ctx)
	if err != nil {
		return Event{}, err
	}
	for {
		msg, err := ps.Receive(ctx)
		if err != nil {
			return Event{}, fmt.Errorf("pubsub: subscription: %w", stream.MarkUnavailable(err))
		}
		switch v := msg.(type) {
		case *redis.Subscription:
			switch {
			case (v.Kind == "subscribe" || v.Kind == "ssubscribe") && v.Count == 2: // both channels
				return Event{Kind: EventSubscribed}, nil
			case v.Kind == "sunsubscribe":
				s.drop(ps)
				return Event{}, fmt.Errorf("%w: %w (channel %s)", stream.ErrUnavailable, ErrShardMoved, v.Channel)
			}
		case *redis.Message:
			switch v.Channel {
			case s.live:
				return Event{Kind: EventMessage, Payload: v.Payload}, nil
			case s.probe:
				return Event{Kind: EventProbe, Payload: v.Payload}, nil
			}
		}
		// Anything else (the first of the two confirmations, a pong) says
		// nothing the caller needs: wait for the next push.
	}
}

// Close ends the subscription.
func (s *subscription) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.ps == nil {
		return nil
	}
	return s.ps.Close()
}

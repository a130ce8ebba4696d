package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/redis/go-redis/v9"
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
var ErrShardMoved = errors.New("stream: sharded subscription ended by redis (slot moved or failover)")

// Subscribe subscribes to the live channel and node nodeID's probe channel
// (SSUBSCRIBE with ShardedPubSub) and returns the subscription; the caller
// closes it. The initial subscribe is bounded by Timeout; if it fails, the
// first Receive reconnects and reports the outcome.
func (s *Store) Subscribe(ctx context.Context, nodeID string) Subscription {
	sub := &subscription{store: s, live: s.keys.live, probe: s.keys.probe(nodeID)}
	sub.ps = sub.open(ctx)
	return sub
}

// subscription adapts a go-redis PubSub to Subscription.
type subscription struct {
	store       *Store
	live, probe string

	mu     sync.Mutex    // guards ps and closed
	ps     *redis.PubSub // nil after a sharded subscription ended
	closed bool
}

// open subscribes a new PubSub to both channels.
func (s *subscription) open(ctx context.Context) *redis.PubSub {
	ctx, cancel := s.store.callCtx(ctx)
	defer cancel()
	if s.store.cfg.ShardedPubSub {
		return s.store.rdb.SSubscribe(ctx, s.live, s.probe)
	}
	return s.store.rdb.Subscribe(ctx, s.live, s.probe)
}

// current returns the PubSub to read, opening a new one after a sharded
// subscription ended.
func (s *subscription) current(ctx context.Context) (*redis.PubSub, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, wrapErr("subscription", redis.ErrClosed)
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
			return Event{}, wrapErr("subscription", err)
		}
		switch v := msg.(type) {
		case *redis.Subscription:
			switch {
			case (v.Kind == "subscribe" || v.Kind == "ssubscribe") && v.Count == 2: // both channels
				return Event{Kind: EventSubscribed}, nil
			case v.Kind == "sunsubscribe":
				s.drop(ps)
				return Event{}, fmt.Errorf("%w: %w (channel %s)", ErrUnavailable, ErrShardMoved, v.Channel)
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

// Probe publishes payload on node nodeID's probe channel; the node's own
// Subscription delivers it back as EventProbe, proving that it delivers.
func (s *Store) Probe(ctx context.Context, nodeID, payload string) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	channel := s.keys.probe(nodeID)
	publish := s.rdb.Publish
	if s.cfg.ShardedPubSub {
		publish = s.rdb.SPublish
	}
	if err := publish(ctx, channel, payload).Err(); err != nil {
		return wrapErr(fmt.Sprintf("probe %s", channel), err)
	}
	return nil
}

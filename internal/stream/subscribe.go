package stream

import (
	"context"
	"fmt"

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

// Subscribe subscribes to the live channel and node nodeID's probe channel
// and returns the subscription; the caller closes it. The initial SUBSCRIBE
// is bounded by Timeout; if it fails, the first Receive reconnects and
// reports the outcome.
func (s *Store) Subscribe(ctx context.Context, nodeID string) Subscription {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	probe := s.keys.probe(nodeID)
	ps := s.rdb.Subscribe(ctx, s.keys.live, probe)
	return &subscription{ps: ps, live: s.keys.live, probe: probe}
}

// subscription adapts a go-redis PubSub to Subscription.
type subscription struct {
	ps          *redis.PubSub
	live, probe string
}

// Receive has no deadline of its own: it waits for pushes for as long as
// ctx lives. The caller proves the subscription alive with probes and
// closes it when they stop coming back.
func (s *subscription) Receive(ctx context.Context) (Event, error) {
	for {
		msg, err := s.ps.Receive(ctx)
		if err != nil {
			return Event{}, wrapErr("subscription", err)
		}
		switch v := msg.(type) {
		case *redis.Subscription:
			if v.Kind == "subscribe" && v.Count == 2 { // both channels
				return Event{Kind: EventSubscribed}, nil
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
func (s *subscription) Close() error { return s.ps.Close() }

// Probe publishes payload on node nodeID's probe channel; the node's own
// Subscription delivers it back as EventProbe, proving that it delivers.
func (s *Store) Probe(ctx context.Context, nodeID, payload string) error {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	channel := s.keys.probe(nodeID)
	if err := s.rdb.Publish(ctx, channel, payload).Err(); err != nil {
		return wrapErr(fmt.Sprintf("probe %s", channel), err)
	}
	return nil
}

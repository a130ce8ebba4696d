package pubsub

import "context"

// Listen subscribes to the plain Pub/Sub channel (SUBSCRIBE, whatever the
// store's sharding) and calls handle with each message's payload, on the
// calling goroutine, until ctx ends. go-redis reconnects and resubscribes
// by itself; what is published meanwhile is lost: Pub/Sub delivers at
// most once. internal/ingest's migration bridge uses it.
func (r *Redis) Listen(ctx context.Context, channel string, handle func(payload string)) {
	ps := r.rdb.Subscribe(ctx, channel)
	defer func() { _ = ps.Close() }()
	ch := ps.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case msg, ok := <-ch:
			if !ok {
				return
			}
			handle(msg.Payload)
		}
	}
}

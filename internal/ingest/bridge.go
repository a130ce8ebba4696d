package ingest

import (
	"context"
	"encoding/json"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// pubsubBody is the JSON of a migration Pub/Sub message: the body of
// POST /v1/publish.
type pubsubBody struct {
	Channel        string          `json:"channel"`
	Event          string          `json:"event"`
	Data           json.RawMessage `json:"data"`
	IdempotencyKey string          `json:"idempotency_key"`
}

// bridge subscribes to PubSubChannel until ctx ends. Every node
// subscribes; only the lease holder forwards a message into the ingest
// stream (others drop it), where it is validated, published and
// dead-lettered like any entry. Pub/Sub delivers at most once: a message
// sent while no holder is subscribed (a takeover, a reconnect) is lost.
func (c *Consumer) bridge(ctx context.Context) {
	c.log.Info("ingest: accepting alarms on a Pub/Sub channel (at most once)", "channel", c.cfg.PubSubChannel)
	c.listener.Listen(ctx, c.cfg.PubSubChannel, func(payload string) { c.forward(ctx, payload) })
}

// forward appends one Pub/Sub message to the ingest stream, or to the
// dead-letter stream when it is not a JSON object.
func (c *Consumer) forward(ctx context.Context, payload string) {
	if !c.lease.valid() {
		c.m.PubSub.WithLabelValues("dropped").Inc()
		return
	}
	cctx, cancel := c.callCtx(ctx, 0)
	defer cancel()
	var b pubsubBody
	var err error
	if jerr := json.Unmarshal([]byte(payload), &b); jerr != nil {
		c.m.DeadLetters.WithLabelValues(ReasonBadJSON).Inc()
		c.log.Warn("ingest: Pub/Sub message is not a JSON object; moved to the dead-letter stream", "err", jerr)
		err = c.group.AddDead(cctx, stream.IngestFields{
			"payload", payload, FieldReason, ReasonBadJSON, FieldID, "pubsub:" + c.cfg.PubSubChannel})
	} else {
		f := stream.IngestFields{FieldChannel, b.Channel, FieldEvent, b.Event}
		if len(b.Data) > 0 {
			f = append(f, FieldData, string(b.Data))
		}
		if b.IdempotencyKey != "" {
			f = append(f, FieldIdemKey, b.IdempotencyKey)
		}
		err = c.group.Add(cctx, f)
	}
	if err != nil {
		c.m.PubSub.WithLabelValues("error").Inc()
		c.log.Warn("ingest: forwarding a Pub/Sub message (lost)", "err", err)
		return
	}
	c.m.PubSub.WithLabelValues("forwarded").Inc()
}

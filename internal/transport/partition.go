package transport

import (
	"errors"
	"fmt"
	"time"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// Partition is one log a node serves clients from: its hub, its live feed
// and the reader of its channel backlogs (nil: resumes older than the
// window are answered expired).
type Partition struct {
	Hub      *hub.Hub
	Feed     Feed
	Backfill hub.Backfill
}

// ErrOtherPartition refuses a token that grants the inbox channel of
// another subject while the deployment has several partitions: a client
// is served from its own subject's partition, which does not hold another
// subject's inbox.
var ErrOtherPartition = errors.New("with several partitions a token grants no other user's inbox channel")

// Partitions are the logs a node serves clients from, one Resumer each.
// Partition k of a deployment of P is index k: a client is served from
// the partition of its token's subject (stream.PartitionOf), so its
// last_id and epoch are positions in that partition's log.
type Partitions struct {
	parts []Resumer
}

// NewPartitions returns the partitions of parts (parts[k] is partition k),
// each resuming with catchUp as its CatchUpTimeout.
func NewPartitions(parts []Partition, catchUp time.Duration) (Partitions, error) {
	if len(parts) == 0 || len(parts) > stream.MaxPartitions {
		return Partitions{}, fmt.Errorf("transport: %d partitions, want 1 to %d", len(parts), stream.MaxPartitions)
	}
	p := Partitions{parts: make([]Resumer, len(parts))}
	for k, part := range parts {
		if part.Hub == nil || part.Feed == nil {
			return Partitions{}, fmt.Errorf("transport: partition %d needs a hub and a feed", k)
		}
		p.parts[k] = Resumer{Hub: part.Hub, Feed: part.Feed, Backfill: part.Backfill, CatchUpTimeout: catchUp}
	}
	return p, nil
}

// Len returns the number of partitions.
func (p Partitions) Len() int { return len(p.parts) }

// For returns the partition that serves a client whose token has subject
// sub and grants channels (its inbox, user:<sub>, among them or not). With
// one partition it is always that one. With several, a token that grants
// the inbox channel of another subject is refused with ErrOtherPartition
// (whatever partition that inbox is in, so that a token works or not
// independently of where the hash puts its subjects).
func (p Partitions) For(sub string, channels []string) (*Resumer, error) {
	if len(p.parts) == 1 {
		return &p.parts[0], nil
	}
	own := stream.InboxPrefix + sub
	for _, c := range channels {
		if stream.IsInbox(c) && c != own {
			return nil, ErrOtherPartition
		}
	}
	k, _ := stream.PartitionOf(own, len(p.parts))
	return &p.parts[k], nil
}

// Ready reports whether every partition's feed is current.
func (p Partitions) Ready() bool {
	for i := range p.parts {
		if !p.parts[i].Feed.Ready() {
			return false
		}
	}
	return len(p.parts) > 0
}

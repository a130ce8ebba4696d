package stream

import (
	"context"
	"errors"
	"fmt"
)

// ErrRecordsLeft reports that IngestGroup.Settle acknowledged its entries
// but could not delete some of their idempotency records in other
// partitions: they expire after IdemTTL. Nothing is published twice.
var ErrRecordsLeft = errors.New("stream: entry idempotency records left to expire")

// IngestAck is an entry for IngestGroup.Settle to acknowledge.
type IngestAck struct {
	ID string
	// Channel is the channel the entry's alarm was published on under the
	// entry's own record (PublishInput.EntryID without an
	// IdempotencyKey): with more than one partition the record is in that
	// channel's partition (PartitionOf), or in every partition for a
	// shared channel. "" when the entry has no such record (it has an
	// idempotency key of its own, or it was refused before any publish).
	// Not needed with one partition, where the record is beside the
	// stream.
	Channel string
}

// deleteRecords deletes the entry records of those of ack whose id is in
// acked (just acknowledged by this consumer) from the partitions they
// were published in, one DEL per partition and at most 1000 keys, in one
// pipeline: each DEL stays within one slot.
func (g *IngestGroup) deleteRecords(ctx context.Context, acked []string, ack []IngestAck) error {
	done := make(map[string]bool, len(acked))
	for _, id := range acked {
		done[id] = true
	}
	byPartition := map[int][]string{}
	for _, a := range ack {
		if a.Channel == "" || !done[a.ID] {
			continue
		}
		k, shared := PartitionOf(a.Channel, g.partitions)
		first, last := k, k
		if shared {
			first, last = 0, g.partitions-1
		}
		for t := first; t <= last; t++ {
			byPartition[t] = append(byPartition[t], a.ID)
		}
	}
	if len(byPartition) == 0 {
		return nil
	}
	pipe := g.rdb.Pipeline()
	for t, ids := range byPartition {
		keys, err := g.keysOf(t)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrRecordsLeft, err)
		}
		names := make([]string, len(ids))
		for i, id := range ids {
			names[i] = keys.entryIdem(g.partitions, g.partition, id)
		}
		for i := 0; i < len(names); i += 1000 {
			pipe.Del(ctx, names[i:min(i+1000, len(names))]...)
		}
	}
	if _, err := pipe.Exec(ctx); err != nil {
		w := wrapErr("DEL entry records", err)
		return tag(w.Error()+" (entries acknowledged; the records expire after IdemTTL)", ErrRecordsLeft, w)
	}
	return nil
}

// IngestKeyOf returns the ingest stream to XADD an alarm of channel to in
// a deployment of prefix (empty: DefaultPrefix) with partitions
// partitions (0: DefaultPartitions): the stream of the channel's
// partition (PartitionOf), partition 0's for a shared channel. Appending
// there keeps a channel's alarms in one stream, hence in order. It
// refuses a prefix or a number of partitions that Config would refuse.
func IngestKeyOf(prefix string, partitions int, channel string) (string, error) {
	cfg, err := layout(prefix, partitions)
	if err != nil {
		return "", err
	}
	k, _ := PartitionOf(channel, cfg.Partitions)
	keys, err := ingestKeysOf(cfg.Prefix, cfg.Partitions, k)
	if err != nil {
		return "", err
	}
	return keys.Stream, nil
}

// IngestStreams returns the ingest stream of every partition of a
// deployment (element k is partition k's), as IngestKeyOf names them.
func IngestStreams(prefix string, partitions int) ([]string, error) {
	cfg, err := layout(prefix, partitions)
	if err != nil {
		return nil, err
	}
	out := make([]string, cfg.Partitions)
	for k := range out {
		keys, err := ingestKeysOf(cfg.Prefix, cfg.Partitions, k)
		if err != nil {
			return nil, err
		}
		out[k] = keys.Stream
	}
	return out, nil
}

// layout validates a deployment's prefix and number of partitions as
// Config does and returns them with defaults applied.
func layout(prefix string, partitions int) (Config, error) {
	cfg := Config{Prefix: prefix, Partitions: partitions}
	if err := cfg.Validate(); err != nil {
		return Config{}, fmt.Errorf("stream: %w", err)
	}
	cfg.applyDefaults()
	return cfg, nil
}

// ingestKeysOf returns the ingest keys of partition k of partitions for
// prefix, all three valid.
func ingestKeysOf(prefix string, partitions, k int) (IngestKeys, error) {
	tag, err := partitionTag(prefix, partitions, k)
	if err != nil {
		return IngestKeys{}, fmt.Errorf("stream: %w", err)
	}
	return newKeys(tag).ingest, nil
}

// keysOf returns the ingest keys of partition k of the group's deployment,
// computing each partition's tag once per group (the salt search of
// partitionTag is not free, and Settle may name every partition).
func (g *IngestGroup) keysOf(k int) (IngestKeys, error) {
	g.tagsMu.Lock()
	defer g.tagsMu.Unlock()
	if keys, ok := g.tags[k]; ok {
		return keys, nil
	}
	keys, err := ingestKeysOf(g.prefix, g.partitions, k)
	if err != nil {
		return IngestKeys{}, err
	}
	if g.tags == nil {
		g.tags = map[int]IngestKeys{}
	}
	g.tags[k] = keys
	return keys, nil
}

package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/strictjson"
)

// Fields of an ingest entry, and the two a dead letter adds.
const (
	FieldChannel = "channel"
	FieldEvent   = "event"
	FieldData    = "data"
	FieldIdemKey = "idempotency_key"
	FieldReason  = "reason"
	FieldID      = "id"
)

// Reasons of dead letters (the reason field and the metric label).
const (
	ReasonMissingField   = "missing_field"
	ReasonDuplicateField = "duplicate_field"
	ReasonInvalidUTF8    = "invalid_utf8"
	ReasonBadJSON        = "bad_json"
	ReasonBadChannel     = "bad_channel"
	ReasonBadEvent       = "bad_event"
	ReasonBadIdemKey     = "bad_idempotency_key"
	ReasonTooLarge       = "too_large"
	ReasonIdemReused     = "idempotency_key_reused"
)

// input turns an entry of partition src's ingest stream into a publish,
// or names why it cannot be one. data may be absent (null); channel and
// event are required. A field the gateway reads given twice is refused:
// which one counts would depend on the reader (a check on the producer's
// side may have read the other). An entry without an idempotency key of
// its own is published with its id as EntryID (and src as
// EntryPartition): its idempotency record is in a namespace of its own,
// which no key of the HTTP API can name.
func input(m stream.IngestEntry, src int) (stream.PublishInput, string) {
	in := stream.PublishInput{EntryID: m.ID, EntryPartition: src}
	var seen [4]bool // channel, event, data, idempotency_key
	for _, f := range m.Fields {
		i := slices.Index(readFields[:], f.Name)
		if i < 0 {
			continue
		}
		if seen[i] {
			return in, ReasonDuplicateField
		}
		seen[i] = true
		switch i {
		case 0:
			in.Channel = f.Value
		case 1:
			in.Event = f.Value
		case 2:
			in.Data = json.RawMessage(f.Value)
		case 3:
			in.IdempotencyKey = f.Value
		}
	}
	switch {
	case !seen[0] || !seen[1]:
		return in, ReasonMissingField
	case !utf8.ValidString(in.Channel) || !utf8.ValidString(in.Event) || !utf8.Valid(in.Data):
		return in, ReasonInvalidUTF8
	case len(in.Data) > 0 && !strictjson.Valid(in.Data):
		return in, ReasonBadJSON
	}
	return in, ""
}

// readFields are the fields input reads, in the order of its seen flags.
var readFields = [4]string{FieldChannel, FieldEvent, FieldData, FieldIdemKey}

// rejectReason names a publish error that is the entry's fault (it would
// fail again): "" for others (Redis failed; retry).
func rejectReason(err error) string {
	switch {
	case errors.Is(err, alarm.ErrInvalidChannel):
		return ReasonBadChannel
	case errors.Is(err, alarm.ErrInvalidEvent):
		return ReasonBadEvent
	case errors.Is(err, alarm.ErrInvalidIdemKey):
		return ReasonBadIdemKey
	case errors.Is(err, alarm.ErrInvalidData):
		return ReasonBadJSON
	case errors.Is(err, stream.ErrTooLarge):
		return ReasonTooLarge
	case errors.Is(err, stream.ErrIdemKeyReused):
		return ReasonIdemReused
	}
	return ""
}

// deadLetter is one refused entry.
type deadLetter struct {
	msg    stream.IngestEntry
	reason string
}

// handle publishes msgs, moves the refused ones to the dead-letter stream
// and acknowledges both. The alarms are split by channel into Parallel
// pipelines that run at once (Redis stays busy while this process
// prepares the others); a channel's alarms all go into one pipeline, in
// id order. When Redis fails on an item, it and every later item of its
// pipeline stay pending (on this node, which retries them, with the same
// idempotency keys, before reading anything new), so on each channel the
// entries acknowledged are a prefix and nothing overtakes.
func (c *Consumer) handle(ctx context.Context, msgs []stream.IngestEntry) error {
	parts := make([]part, c.cfg.Parallel)
	reasons := make([]string, len(msgs))
	records := make([]string, len(msgs))
	for i, m := range msgs {
		in, reason := input(m, c.part)
		if reason != "" {
			reasons[i] = reason
			continue
		}
		if in.IdempotencyKey == "" {
			records[i] = in.Channel
		}
		p := &parts[channelPart(in.Channel, len(parts))]
		p.ins = append(p.ins, in)
		p.pos = append(p.pos, i)
	}
	pctx, cancel := c.leaseCtx(ctx, 0)
	var wg sync.WaitGroup
	for k := range parts {
		if p := &parts[k]; len(p.ins) > 0 {
			wg.Go(func() { p.results, p.errs = c.pub.PublishBatch(pctx, p.ins) })
		}
	}
	wg.Wait()
	cancel()
	settled := make([]stream.IngestEntry, 0, len(msgs))
	settledRecords := make([]string, 0, len(msgs))
	keep := make([]bool, len(msgs))
	var failure error
	for _, p := range parts {
		for j, err := range p.errs {
			if err == nil {
				c.m.Alarms.WithLabelValues(result(p.results[j])).Inc()
				continue
			}
			if r := rejectReason(err); r != "" {
				reasons[p.pos[j]] = r
				continue
			}
			for _, i := range p.pos[j:] {
				keep[i] = true
			}
			failure = err
			break
		}
	}
	settledReasons := make([]string, 0, len(msgs))
	for i, m := range msgs {
		if !keep[i] {
			settled = append(settled, m)
			settledReasons = append(settledReasons, reasons[i])
			settledRecords = append(settledRecords, records[i])
		}
	}
	if err := c.settle(ctx, settled, settledReasons, settledRecords); err != nil {
		return err
	}
	if failure != nil {
		return fmt.Errorf("ingest: publish: %w", failure)
	}
	return nil
}

// part is the alarms of one pipeline of handle.
type part struct {
	ins     []stream.PublishInput
	pos     []int // pos[j]: index in msgs of ins[j]
	results []stream.PublishResult
	errs    []error
}

// channelPart maps a channel to one of n pipelines (FNV-1a).
func channelPart(channel string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(channel))
	return int(h.Sum32() % uint32(n))
}

func result(r stream.PublishResult) string {
	if r.Replayed {
		return "replayed"
	}
	return "created"
}

// settle writes the dead letters among msgs (reasons[i] != "") and then
// acknowledges every one of msgs still pending on this node, deleting
// their entry idempotency records (stream.IngestGroup.Settle):
// records[i] is the channel msgs[i] was published on under its entry's
// own record, "" when it has none (nil: none has). A dead letter is
// written before its ack: a crash between them writes it twice, never
// loses it.
func (c *Consumer) settle(ctx context.Context, msgs []stream.IngestEntry, reasons, records []string) error {
	if len(msgs) == 0 {
		return nil
	}
	cctx, cancel := c.callCtx(ctx, 0)
	defer cancel()
	acks := make([]stream.IngestAck, len(msgs))
	var dead []deadLetter
	var fields []stream.IngestFields
	for i, m := range msgs {
		acks[i].ID = m.ID
		if records != nil {
			acks[i].Channel = records[i]
		}
		if reasons[i] == "" {
			continue
		}
		dead = append(dead, deadLetter{m, reasons[i]})
		f := make(stream.IngestFields, 0, 2*len(m.Fields)+4)
		for _, x := range m.Fields {
			if x.Name != FieldReason && x.Name != FieldID {
				f = append(f, x.Name, x.Value)
			}
		}
		fields = append(fields, append(f, FieldReason, reasons[i], FieldID, m.ID))
	}
	err := c.group.Settle(cctx, c.cfg.NodeID, fields, acks)
	if err != nil && !errors.Is(err, stream.ErrRecordsLeft) {
		return c.groupErr(err)
	}
	for _, d := range dead {
		c.m.DeadLetters.WithLabelValues(d.reason).Inc()
		c.log.Warn("ingest: entry refused; moved to the dead-letter stream",
			"id", d.msg.ID, "reason", d.reason, "dead_letters", c.group.Keys().Dead)
	}
	return err // nil, or records left to expire: logged by Run
}

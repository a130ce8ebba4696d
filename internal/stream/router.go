package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

// Router routes the calls of a deployment of P partitions to their
// stores: an inbox channel's (user:<sub>) to its partition (PartitionOf),
// a shared channel's publishes to every partition and its reads to
// partition 0. It is what the API, the inbox limiter and the ingest
// consumers call. Errors are the stores' as they are. With one partition
// every call is its Store's (or, for a single publish, its Pipeliner's)
// as is: same results, errors and keys. It holds no mutable state and is
// safe for concurrent use; the goroutines a call starts are joined before
// it returns.
type Router struct {
	parts []*Store
	pipes []*Pipeliner // nil, or pipes[k] publishes partition k's single publishes
}

// NewRouter returns a Router over parts (parts[k] is partition k:
// Partitions() == len(parts), Partition() == k, every one configured
// alike but for Partition) and pipes (nil, or one *Pipeliner per
// partition, pipes[k] made by parts[k].NewPipeliner: single publishes of
// partition k go through it; nil: straight to the store). Running the
// Pipeliners is the caller's: a Pipeliner whose Run has not started holds
// a publish until its context ends; one whose Run has returned sends it
// straight to its Store.
func NewRouter(parts []*Store, pipes []*Pipeliner) (*Router, error) {
	if len(parts) == 0 {
		return nil, errors.New("stream: router: no partitions")
	}
	for k, s := range parts {
		if s == nil {
			return nil, fmt.Errorf("stream: router: partition %d: nil store", k)
		}
		if s.Partition() != k || s.Partitions() != len(parts) {
			return nil, fmt.Errorf("stream: router: store %d of %d is partition %d of %d",
				k, len(parts), s.Partition(), s.Partitions())
		}
		if !sameConfig(s.cfg, parts[0].cfg) {
			return nil, fmt.Errorf("stream: router: partition %d is configured unlike partition 0", k)
		}
	}
	if pipes != nil && len(pipes) != len(parts) {
		return nil, fmt.Errorf("stream: router: %d pipeliners for %d partitions", len(pipes), len(parts))
	}
	for k, p := range pipes {
		if p == nil || p.s != parts[k] {
			return nil, fmt.Errorf("stream: router: pipeliner %d is not partition %d's", k, k)
		}
	}
	return &Router{parts: slices.Clone(parts), pipes: slices.Clone(pipes)}, nil
}

// sameConfig reports whether a and b are equal but for Partition.
func sameConfig(a, b Config) bool {
	a.Partition, b.Partition = 0, 0
	return a == b
}

// Len returns the number of partitions.
func (r *Router) Len() int { return len(r.parts) }

// Part returns the store of partition k (0 <= k < Len()).
func (r *Router) Part(k int) *Store { return r.parts[k] }

// PartOf returns the store of channel's partition; for a shared channel,
// partition 0's.
func (r *Router) PartOf(channel string) *Store {
	k, _ := PartitionOf(channel, len(r.parts))
	return r.parts[k]
}

// Timeout returns the bound of one Redis call, the same in every
// partition (Store.Timeout). A call to several partitions runs them
// concurrently, so it is bounded by it too.
func (r *Router) Timeout() time.Duration { return r.parts[0].Timeout() }

// Publish publishes one alarm (Store.Publish). An inbox channel's goes to
// its partition; a shared channel's, with more than one partition, to
// every partition concurrently, each giving it its own id: the answer is
// partition 0's, or, when any partition failed, the error of the first
// that failed (in partition order). Retried with the same IdempotencyKey,
// it is replayed in the partitions that had accepted it; without one, it
// may be appended twice there.
func (r *Router) Publish(ctx context.Context, in PublishInput) (PublishResult, error) {
	k, shared := PartitionOf(in.Channel, len(r.parts))
	if !shared || len(r.parts) == 1 {
		return r.publish(ctx, k, in)
	}
	res := make([]PublishResult, len(r.parts))
	errs := make([]error, len(r.parts))
	var wg sync.WaitGroup
	for k := 1; k < len(r.parts); k++ {
		wg.Go(func() { res[k], errs[k] = r.publish(ctx, k, in) })
	}
	res[0], errs[0] = r.publish(ctx, 0, in)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return PublishResult{}, err
		}
	}
	return res[0], nil
}

// publish is one partition's single publish: through its Pipeliner if
// there is one.
func (r *Router) publish(ctx context.Context, k int, in PublishInput) (PublishResult, error) {
	if r.pipes != nil {
		return r.pipes[k].Publish(ctx, in)
	}
	return r.parts[k].Publish(ctx, in)
}

// PublishBatch publishes several alarms (Store.PublishBatch): the items
// are split by partition, a shared channel's item going into every
// partition's sub-batch, each sub-batch in input order; the sub-batches
// run concurrently, one per partition that has items (the calling
// goroutine runs the first). results and errs align with ins: an inbox
// item's are its partition's; a shared item's result is partition 0's,
// its error the first failing partition's (in partition order). With one
// partition it is that Store's PublishBatch.
func (r *Router) PublishBatch(ctx context.Context, ins []PublishInput) ([]PublishResult, []error) {
	if len(r.parts) == 1 {
		return r.parts[0].PublishBatch(ctx, ins)
	}
	idx, only := r.split(ins)
	if only >= 0 { // one partition holds every item: no copy, no goroutine
		return r.parts[only].PublishBatch(ctx, ins)
	}
	subRes := make([][]PublishResult, len(r.parts))
	subErrs := make([][]error, len(r.parts))
	run := func(k int) {
		sub := make([]PublishInput, len(idx[k]))
		for j, i := range idx[k] {
			sub[j] = ins[i]
		}
		subRes[k], subErrs[k] = r.parts[k].PublishBatch(ctx, sub)
	}
	first := -1
	var wg sync.WaitGroup
	for k := range idx {
		switch {
		case len(idx[k]) == 0:
		case first < 0:
			first = k
		default:
			wg.Go(func() { run(k) })
		}
	}
	run(first)
	wg.Wait()
	return merge(len(ins), idx, subRes, subErrs)
}

// split returns the indexes of ins each partition's sub-batch holds, in
// input order, and the partition that holds them all when one does (else
// -1; an empty batch is partition 0's).
func (r *Router) split(ins []PublishInput) (idx [][]int, only int) {
	idx = make([][]int, len(r.parts))
	only = 0
	for i, in := range ins {
		k, shared := PartitionOf(in.Channel, len(r.parts))
		if shared {
			for k := range idx {
				idx[k] = append(idx[k], i)
			}
			only = -1
			continue
		}
		if i == 0 {
			only = k
		} else if k != only {
			only = -1
		}
		idx[k] = append(idx[k], i)
	}
	return idx, only
}

// merge aligns the sub-batches' answers with the n items of the batch:
// idx[k][j] is the item whose answer is subRes[k][j], subErrs[k][j]. It
// goes from the last partition to the first, so that a shared item keeps
// partition 0's result and the first failing partition's error.
func merge(n int, idx [][]int, subRes [][]PublishResult, subErrs [][]error) ([]PublishResult, []error) {
	results, errs := make([]PublishResult, n), make([]error, n)
	for k := len(idx) - 1; k >= 0; k-- {
		for j, i := range idx[k] {
			results[i] = subRes[k][j]
			if err := subErrs[k][j]; err != nil {
				errs[i] = err
			}
		}
	}
	for i, err := range errs {
		if err != nil {
			results[i] = PublishResult{}
		}
	}
	return results, errs
}

// ListAlarms lists channel's alarms (Store.ListAlarms) from its partition;
// a shared channel's from partition 0, with partition 0's ids and epoch.
func (r *Router) ListAlarms(ctx context.Context, channel string, after protocol.ID, limit int) (Listing, error) {
	return r.PartOf(channel).ListAlarms(ctx, channel, after, limit)
}

// ChangeState changes the state of the inbox channel (Store.ChangeState)
// in its partition. A channel that is no inbox goes to partition 0, which
// refuses it (ErrNoInbox).
func (r *Router) ChangeState(ctx context.Context, channel string, c protocol.StateChange) (StateResult, error) {
	return r.PartOf(channel).ChangeState(ctx, channel, c)
}

// ReadInbox reads a page of the inbox channel (Store.ReadInbox) from its
// partition. A channel that is no inbox goes to partition 0, which refuses
// it (ErrNoInbox).
func (r *Router) ReadInbox(ctx context.Context, channel string, q InboxQuery) (Inbox, error) {
	return r.PartOf(channel).ReadInbox(ctx, channel, q)
}

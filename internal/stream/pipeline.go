package stream

import (
	"context"
	"time"
)

// Pipeliner groups Publish calls that arrive while another is in flight
// into one pipeline, so concurrent single publishes share round trips
// (Redis' auto-pipelining, done by hand). A lone call goes out at once:
// nothing waits for company. Run it in one goroutine; Publish is safe from
// any goroutine and falls back to Store.Publish when Run is not running.
type Pipeliner struct {
	s    *Store
	max  int
	reqs chan *pubReq
	done chan struct{} // closed when Run returns
}

type pubReq struct {
	in       PublishInput
	deadline time.Time // the caller's deadline (zero: none)
	res      PublishResult
	err      error
	done     chan struct{}
}

// NewPipeliner returns a Pipeliner that sends at most max publishes per
// pipeline (default 128 when max <= 0).
func (s *Store) NewPipeliner(max int) *Pipeliner {
	if max <= 0 {
		max = 128
	}
	// Unbuffered: a request is either taken by Run or not sent at all, so
	// none is stranded when Run returns.
	return &Pipeliner{s: s, max: max, reqs: make(chan *pubReq), done: make(chan struct{})}
}

// Publish is Store.Publish through the pipeline.
func (p *Pipeliner) Publish(ctx context.Context, in PublishInput) (PublishResult, error) {
	r := &pubReq{in: in, deadline: deadlineOf(ctx), done: make(chan struct{})}
	select {
	case p.reqs <- r:
	case <-p.done:
		return p.s.Publish(ctx, in)
	case <-ctx.Done():
		return PublishResult{}, wrapErr("publish", ctx.Err())
	}
	select {
	case <-r.done:
		return r.res, r.err
	case <-ctx.Done():
		// The script refuses the alarm after the caller's deadline; a
		// caller cancelled earlier cannot know: a retry with the same
		// Idempotency-Key is safe.
		return PublishResult{}, wrapErr("publish", ctx.Err())
	}
}

// Run sends queued publishes until ctx ends.
func (p *Pipeliner) Run(ctx context.Context) {
	defer close(p.done)
	batch := make([]*pubReq, 0, p.max)
	ins := make([]PublishInput, 0, p.max)
	for {
		select {
		case <-ctx.Done():
			return
		case r := <-p.reqs:
			batch = append(batch[:0], r)
		}
	fill:
		for len(batch) < p.max {
			select {
			case r := <-p.reqs:
				batch = append(batch, r)
			default:
				break fill
			}
		}
		p.send(batch, ins[:0])
	}
}

// send runs one batch without the callers' contexts: a caller that gives
// up stops waiting, but the pipeline is not torn in the middle. Each item
// carries its caller's deadline, after which the script refuses it.
func (p *Pipeliner) send(batch []*pubReq, ins []PublishInput) {
	ctx, cancel := p.s.callCtx(context.Background())
	defer cancel()
	if len(batch) == 1 {
		r := batch[0]
		if !r.deadline.IsZero() {
			var c context.CancelFunc
			ctx, c = context.WithDeadline(ctx, r.deadline)
			defer c()
		}
		r.res, r.err = p.s.Publish(ctx, r.in)
		close(r.done)
		return
	}
	deadlines := make([]time.Time, 0, len(batch))
	for _, r := range batch {
		ins = append(ins, r.in)
		deadlines = append(deadlines, r.deadline)
	}
	res, errs := p.s.publishBatch(ctx, ins, deadlines)
	for i, r := range batch {
		r.res, r.err = res[i], errs[i]
		close(r.done)
	}
}

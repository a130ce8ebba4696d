package stream

import "context"

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
	in   PublishInput
	res  PublishResult
	err  error
	done chan struct{}
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
	r := &pubReq{in: in, done: make(chan struct{})}
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
		// The alarm may still be appended; a retry with the same
		// Idempotency-Key is safe, as after any timeout.
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
// up stops waiting, but the pipeline is not torn in the middle.
func (p *Pipeliner) send(batch []*pubReq, ins []PublishInput) {
	if len(batch) == 1 {
		r := batch[0]
		r.res, r.err = p.s.Publish(context.Background(), r.in)
		close(r.done)
		return
	}
	for _, r := range batch {
		ins = append(ins, r.in)
	}
	res, errs := p.s.PublishBatch(context.Background(), ins)
	for i, r := range batch {
		r.res, r.err = res[i], errs[i]
		close(r.done)
	}
}

package stream

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync/atomic"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// Defaults of NewBacklogReader.
const (
	// DefaultReadWorkers bounds the backlog reads in flight at once.
	DefaultReadWorkers = 4
	// DefaultReadKeys bounds the channel backlogs one script call reads.
	DefaultReadKeys = 256
	// DefaultReadQueue bounds the reads waiting for a turn; one more is
	// refused at once (ErrReadQueueFull).
	DefaultReadQueue = 10000
)

// ErrReadQueueFull refuses a read when DefaultReadQueue reads already wait
// for a turn. It is ErrUnavailable: the client retries with backoff.
var ErrReadQueueFull = tag("stream: read backlogs: too many reads waiting", ErrUnavailable)

// BacklogReader serves resumes from further back than a node's window. It
// groups concurrent ReadAfter calls into shared script calls: a read of
// the same channel from the same position is made once (every client reads
// `broadcast`), and at most workers calls are in flight, so a reconnect
// storm neither stampedes Redis nor queues behind one round trip at a
// time. Run it in one goroutine; ReadAfter is safe from any goroutine and
// reads directly when Run is not running.
//
// Admission: a read waits for its turn as long as its caller's ctx lasts
// (the client's connection), so reads are admitted at the rate Redis
// serves them; only each Redis call has a deadline (the store's Timeout).
// At most maxWaiting reads wait; one more fails at once. A call that fails
// because Redis is unavailable fails every read waiting at that moment
// too, so a dead Redis answers the whole queue within one call's timeout.
type BacklogReader struct {
	s          *Store
	workers    int
	maxKeys    int
	maxWaiting int64
	onCall     func(keys int) // reports each script call; may be nil
	reqs       chan *readReq
	waiting    atomic.Int64  // reads in do, not yet taken by a worker
	done       chan struct{} // closed when Run returns
}

// readReq is one ReadAfter (reads set) or one Counts (inbox set).
type readReq struct {
	reads  []BacklogRead
	inbox  string
	epoch  string
	alarms []alarm.Entry
	counts protocol.Counts
	ok     bool // ReadAfter: complete; Counts: the channel keeps counts
	err    error
	done   chan struct{}
}

// NewBacklogReader returns a reader with at most workers script calls in
// flight (DefaultReadWorkers when <= 0); onCall, if not nil, is told the
// number of backlogs each call read.
func (s *Store) NewBacklogReader(workers int, onCall func(keys int)) *BacklogReader {
	if workers <= 0 {
		workers = DefaultReadWorkers
	}
	return &BacklogReader{s: s, workers: workers, maxKeys: DefaultReadKeys, maxWaiting: DefaultReadQueue,
		onCall: onCall, reqs: make(chan *readReq), done: make(chan struct{})}
}

// ReadAfter returns every retained alarm on channels with id > after,
// merged in id order, the epoch current at the read, and whether the
// backlogs reach back to after (false: some may be gone).
func (r *BacklogReader) ReadAfter(ctx context.Context, channels []string, after protocol.ID) (epoch string, alarms []alarm.Entry, complete bool, err error) {
	req := &readReq{reads: make([]BacklogRead, 0, len(channels)), done: make(chan struct{})}
	for _, c := range channels {
		if !slices.ContainsFunc(req.reads, func(cr BacklogRead) bool { return cr.Channel == c }) {
			req.reads = append(req.reads, BacklogRead{c, after})
		}
	}
	if err := r.do(ctx, req); err != nil {
		return "", nil, false, err
	}
	return req.epoch, req.alarms, req.ok, req.err
}

// do hands req to a worker (or serves it here when Run is not running)
// and waits for it. The wait for a turn ends only with ctx (or a failed
// call, see fail); the call itself is bounded by the store's Timeout.
func (r *BacklogReader) do(ctx context.Context, req *readReq) error {
	if r.waiting.Add(1) > r.maxWaiting {
		r.waiting.Add(-1)
		return ErrReadQueueFull
	}
	select {
	case r.reqs <- req:
		r.waiting.Add(-1)
	case <-r.done:
		r.waiting.Add(-1)
		r.serve([]*readReq{req})
	case <-ctx.Done():
		r.waiting.Add(-1)
		return wrapErr("read backlogs", ctx.Err())
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return wrapErr("read backlogs", ctx.Err())
	}
}

// Run serves reads with its workers until ctx ends.
func (r *BacklogReader) Run(ctx context.Context) {
	defer close(r.done)
	done := make(chan struct{})
	for range r.workers {
		go func() { // owned by Run, which waits for it below
			defer func() { done <- struct{}{} }()
			r.work(ctx)
		}()
	}
	for range r.workers {
		<-done
	}
}

// work takes whatever reads are waiting, up to maxKeys backlogs, and
// serves them in one script call.
func (r *BacklogReader) work(ctx context.Context) {
	var batch []*readReq
	for {
		select {
		case <-ctx.Done():
			return
		case q := <-r.reqs:
			batch = append(batch[:0], q)
		}
		keys := len(batch[0].reads) + 1
	fill:
		for keys < r.maxKeys {
			select {
			case q := <-r.reqs:
				batch = append(batch, q)
				keys += len(q.reads) + 1
			default:
				break fill
			}
		}
		r.serve(batch)
	}
}

// serve answers batch: every distinct (channel, position) is read once in
// one script call, every distinct inbox's counts once in one pipeline;
// without the callers' contexts.
func (r *BacklogReader) serve(batch []*readReq) {
	var reads, counts []*readReq
	for _, q := range batch {
		if q.inbox != "" {
			counts = append(counts, q)
		} else {
			reads = append(reads, q)
		}
	}
	var err error
	if len(reads) > 0 {
		err = r.serveReads(reads)
	}
	if len(counts) > 0 {
		err = cmp.Or(r.serveCounts(counts), err)
	}
	if errors.Is(err, ErrUnavailable) {
		r.fail(err)
	}
}

// fail answers every read waiting for a turn with err: Redis just failed
// a call as unavailable, so they would most likely wait a call's timeout
// to fail the same way. Reads arriving later try again.
func (r *BacklogReader) fail(err error) {
	for {
		select {
		case q := <-r.reqs:
			q.err = err
			close(q.done)
		default:
			return
		}
	}
}

func (r *BacklogReader) serveReads(batch []*readReq) error {
	index := make(map[BacklogRead]int)
	var reads []BacklogRead
	for _, q := range batch {
		for _, cr := range q.reads {
			if _, ok := index[cr]; !ok {
				index[cr] = len(reads)
				reads = append(reads, cr)
			}
		}
	}
	res, err := r.s.ReadBacklogs(context.Background(), reads, 0)
	if r.onCall != nil {
		r.onCall(len(reads))
	}
	for _, q := range batch {
		q.err, q.epoch, q.ok = err, res.Epoch, err == nil
		for _, cr := range q.reads {
			if err != nil {
				break
			}
			p := res.Pages[index[cr]]
			q.ok = q.ok && p.Complete
			q.alarms = append(q.alarms, p.Alarms...)
		}
		slices.SortFunc(q.alarms, func(a, b alarm.Entry) int { return a.ID.Compare(b.ID) })
		close(q.done)
	}
	return err
}

func (r *BacklogReader) serveCounts(batch []*readReq) error {
	index := make(map[string]int)
	var inboxes []string
	for _, q := range batch {
		if _, ok := index[q.inbox]; !ok {
			index[q.inbox] = len(inboxes)
			inboxes = append(inboxes, q.inbox)
		}
	}
	counts, err := r.s.countsOf(context.Background(), inboxes)
	for _, q := range batch {
		q.err, q.ok = err, err == nil
		if err == nil {
			q.counts = counts[index[q.inbox]]
		}
		close(q.done)
	}
	return err
}

// Counts reads the counts of an inbox channel for a welcome, as
// Store.Counts does; concurrent calls share one pipelined round trip, so a
// reconnect storm costs a few round trips, not one per client.
func (r *BacklogReader) Counts(ctx context.Context, channel string) (protocol.Counts, bool, error) {
	if !r.s.inboxEnabled(channel) {
		return protocol.Counts{}, false, nil
	}
	req := &readReq{inbox: channel, done: make(chan struct{})}
	if err := r.do(ctx, req); err != nil {
		return protocol.Counts{}, false, err
	}
	return req.counts, req.ok, req.err
}

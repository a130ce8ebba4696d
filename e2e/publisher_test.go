package e2e

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// accepted is an alarm answered 2xx: the truth clients are checked against.
type accepted struct {
	id      sid
	idStr   string
	channel string
	epoch   string
	at      time.Time // when the 2xx arrived
	// part is the partition whose log id belongs to: the channel's for a
	// user channel, 0 (the answer's) for a shared one; perPartition adds
	// a shared alarm's copies in the other partitions.
	part int
	tail string // the alarm as the log stores it (field t), to find its copies
}

// loadPublisher publishes through random nodes and records what was
// accepted. A failed publish is retried with the same Idempotency-Key on
// another node until accepted, for at most retryFor.
type loadPublisher struct {
	h        *harness
	prefix   string // idempotency keys are prefix + sequence number
	retryFor time.Duration
	seq      atomic.Int64
	retries  atomic.Int64 // failed attempts that were retried
	replays  atomic.Int64 // 200 + Idempotent-Replayed answers

	mu     sync.Mutex
	list   []accepted        // guarded by mu
	byID   map[string]string // guarded by mu; partition/id -> idempotency key
	epochs map[string]int    // guarded by mu; epoch -> alarms accepted in it
	errs   []error           // guarded by mu
}

func newLoadPublisher(h *harness) *loadPublisher {
	return &loadPublisher{
		h: h, prefix: fmt.Sprintf("e2e-%x-", rand.Uint64()), retryFor: 45 * time.Second,
		byID: make(map[string]string), epochs: make(map[string]int),
	}
}

// publish publishes one alarm until a node accepts it (bounded).
func (p *loadPublisher) publish(ctx context.Context, channel, event string, data any) (accepted, error) {
	key := fmt.Sprintf("%s%d", p.prefix, p.seq.Add(1))
	begin := time.Now()
	node := rand.IntN(len(p.h.addrs))
	for attempt := 0; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := p.h.publisher(node).Publish(actx, channel, event, data, key)
		cancel()
		if err == nil {
			return p.record(key, channel, res, event, data)
		}
		var apiErr *client.APIError
		if errors.As(err, &apiErr) && apiErr.Status >= 400 && apiErr.Status < 500 && apiErr.Status != 429 {
			return accepted{}, fmt.Errorf("publish %s on %s: rejected: %w", key, channel, err)
		}
		if ctx.Err() != nil || time.Since(begin) > p.retryFor {
			return accepted{}, fmt.Errorf("publish %s on %s: not accepted after %d attempts in %v: %w",
				key, channel, attempt+1, time.Since(begin).Round(time.Millisecond), err)
		}
		p.retries.Add(1)
		sleepCtx(ctx, time.Duration(min(attempt+1, 10))*20*time.Millisecond)
		node = (node + 1 + rand.IntN(len(p.h.addrs))) % len(p.h.addrs)
	}
}

// record stores an accepted answer, checking that ids (within their
// partition: two logs may hand out the same id) and keys pair up one to
// one.
func (p *loadPublisher) record(key, channel string, res client.Published, event string, data any) (accepted, error) {
	id, ok := parseSID(res.ID)
	if !ok || res.Channel != channel || res.Epoch == "" {
		return accepted{}, fmt.Errorf("publish %s: bad answer %+v", key, res)
	}
	if res.Replayed {
		p.replays.Add(1)
	}
	part, _ := stream.PartitionOf(channel, p.h.parts)
	tail, err := logTail(channel, event, data)
	if err != nil {
		return accepted{}, fmt.Errorf("publish %s: %w", key, err)
	}
	a := accepted{id: id, idStr: res.ID, channel: channel, epoch: res.Epoch, at: time.Now(), part: part, tail: tail}
	p.mu.Lock()
	defer p.mu.Unlock()
	pid := fmt.Sprintf("%d/%s", part, res.ID)
	if other, dup := p.byID[pid]; dup {
		return accepted{}, fmt.Errorf("publish %s: id %s was already returned for key %s", key, res.ID, other)
	}
	p.byID[pid] = key
	p.epochs[res.Epoch]++
	p.list = append(p.list, a)
	return a, nil
}

// fail records an error of a background publish.
func (p *loadPublisher) fail(err error) {
	p.mu.Lock()
	p.errs = append(p.errs, err)
	p.mu.Unlock()
}

// errors returns the background publish errors so far.
func (p *loadPublisher) errors() []error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.errs)
}

// truth returns every accepted alarm, in id order.
func (p *loadPublisher) truth() []accepted {
	p.mu.Lock()
	list := slices.Clone(p.list)
	p.mu.Unlock()
	slices.SortFunc(list, func(a, b accepted) int { return a.id.compare(b.id) })
	return list
}

// epochSet returns how many alarms were accepted in each epoch.
func (p *loadPublisher) epochSet() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]int, len(p.epochs))
	for k, v := range p.epochs {
		m[k] = v
	}
	return m
}

// pickFunc chooses the channel and data of the i-th alarm of a load.
type pickFunc func(i int) (channel string, data any)

// load publishes at rate alarms/s with workers concurrent publishers until
// stop ends (or total alarms were issued, when total > 0). It returns the
// number of alarms issued; errors are kept in p.errors.
func (p *loadPublisher) load(stop context.Context, rate float64, total, workers int, pick pickFunc) int {
	jobs := make(chan int, 1<<16)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				ch, data := pick(i)
				if _, err := p.publish(p.h.ctx, ch, "e2e.load", data); err != nil {
					p.fail(err)
				}
			}
		})
	}
	interval := time.Duration(float64(time.Second) / rate)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	issued := 0
	begin := time.Now()
loop:
	for total <= 0 || issued < total {
		select {
		case <-stop.Done():
			break loop
		case <-tick.C:
		}
		// Catch up after a slow tick so the average rate holds.
		due := int(time.Since(begin)/interval) + 1
		for ; issued < due && (total <= 0 || issued < total); issued++ {
			jobs <- issued
		}
	}
	close(jobs)
	wg.Wait()
	return issued
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

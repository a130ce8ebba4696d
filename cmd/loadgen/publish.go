package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// publisher posts to one node's HTTP API over kept-alive connections.
type publisher struct {
	kind   target
	hc     *http.Client
	base   string
	apiKey string
}

// newPublisher returns a publisher for kind's API keeping up to conns
// connections alive.
func newPublisher(kind target, base, apiKey string, conns int) *publisher {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute}
	return &publisher{kind: kind, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: base, apiKey: apiKey}
}

// post sends body to path and returns the status and the response body.
func (p *publisher) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	p.kind.setAuth(req, p.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("publish: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("publish: read: %w", err)
	}
	return resp.StatusCode, b, nil
}

// publishOne posts one alarm and reports whether it was accepted.
func (p *publisher) publishOne(ctx context.Context, channel string, data []byte) bool {
	path, body := p.kind.publishRequest(channel, data)
	st, b, err := p.post(ctx, path, body)
	return err == nil && p.kind.published(st, b)
}

// publishBatch posts one batch and returns the position of each accepted
// item ("" for a refused one).
func (p *publisher) publishBatch(ctx context.Context, channels []string, data [][]byte) ([]string, error) {
	path, body := p.kind.batchRequest(channels, data)
	st, b, err := p.post(ctx, path, body)
	if err != nil {
		return nil, err
	}
	return p.kind.batchPositions(st, b)
}

// pace calls fn(i) for i = 0, 1, … at rate calls per second for dur, on
// workers goroutines, and returns how many calls it made and how long they
// took from the first start to the last return. When the workers cannot
// keep up, calls start late (in bursts) and the achieved rate is lower.
func pace(ctx context.Context, rate float64, dur time.Duration, workers int, fn func(i int)) (int, time.Duration) {
	total := int(rate * dur.Seconds())
	jobs := make(chan int, workers)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				fn(i)
			}
		})
	}
	start := time.Now()
	n := 0
	for ; n < total && ctx.Err() == nil; n++ {
		due := start.Add(time.Duration(float64(n) / rate * float64(time.Second)))
		if d := time.Until(due); d > 0 {
			time.Sleep(d)
		}
		jobs <- n
	}
	close(jobs)
	wg.Wait()
	return n, time.Since(start)
}

// parallel calls fn(i) for every i in [0, n) on workers goroutines.
func parallel(ctx context.Context, n, workers int, fn func(i int)) {
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range jobs {
				fn(i)
			}
		})
	}
	for i := 0; i < n && ctx.Err() == nil; i++ {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// publisher posts to one gateway's HTTP API over kept-alive connections.
type publisher struct {
	hc   *http.Client
	base string
	auth string
}

// newPublisher returns a publisher keeping up to conns connections alive.
func newPublisher(base, apiKey string, conns int) *publisher {
	tr := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns,
		DisableCompression: true, IdleConnTimeout: time.Minute}
	return &publisher{hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, base: base, auth: "Bearer " + apiKey}
}

// post sends body to path and returns the status and the response body.
func (p *publisher) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", p.auth)
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

// publishOne posts one alarm and reports whether it was accepted (201).
func (p *publisher) publishOne(ctx context.Context, channel string, data []byte) bool {
	st, _, err := p.post(ctx, "/v1/alarms", publishBody(channel, data))
	return err == nil && st == http.StatusCreated
}

// batchResults is the answer of POST /v1/alarms/batch.
type batchResults struct {
	Results []struct {
		ID    string          `json:"id"`
		Error json.RawMessage `json:"error"`
	} `json:"results"`
}

// publishBatch posts one batch and returns the id of each accepted item
// ("" for a refused one).
func (p *publisher) publishBatch(ctx context.Context, channels []string, data [][]byte) ([]string, error) {
	st, b, err := p.post(ctx, "/v1/alarms/batch", batchBody(channels, data))
	if err != nil {
		return nil, err
	}
	if st != http.StatusOK {
		return nil, fmt.Errorf("publish: batch: status %d: %.200s", st, b)
	}
	var r batchResults
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("publish: batch: %w", err)
	}
	ids := make([]string, len(r.Results))
	for i, x := range r.Results {
		ids[i] = x.ID
	}
	return ids, nil
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

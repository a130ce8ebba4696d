package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"sync/atomic"
	"time"
)

type publishOpts struct {
	workers      int
	batchWorkers int
	duration     time.Duration
	batch        int
	size         int
	mode         string
	channel      string
	users        int
}

func publishFlags(fs *flag.FlagSet) func(context.Context, *common, io.Writer) error {
	o := &publishOpts{}
	fs.IntVar(&o.workers, "workers", 32, "concurrent single-alarm requests (one kept-alive connection each)")
	fs.IntVar(&o.batchWorkers, "batch-workers", 8, "concurrent batch requests")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "time per mode")
	fs.IntVar(&o.batch, "batch", 100, "alarms per batch request")
	fs.IntVar(&o.size, "size", 256, "bytes of alarm data")
	fs.StringVar(&o.mode, "mode", "both", "single, batch or both")
	fs.StringVar(&o.channel, "channel", "bench:pub", "channel to publish to (no receivers)")
	fs.IntVar(&o.users, "users", 0, "spread the alarms over the user channels user:bench0..bench<users-1>, each request's in turn (0: every alarm to -channel)")
	return func(ctx context.Context, co *common, out io.Writer) error { return runPublish(ctx, o, co, out) }
}

// pubResult is one publish mode's outcome.
type pubResult struct {
	mode      string
	accepted  int64 // alarms
	errors    int64 // failed requests or refused items
	requests  int64
	took      time.Duration
	lat       *hist // per request
	cpu, rcpu time.Duration
}

func (r pubResult) rate() float64 { return float64(r.accepted) / r.took.Seconds() }

func runPublish(ctx context.Context, o *publishOpts, co *common, out io.Writer) error {
	cl, err := co.startCluster(ctx, 1)
	if err != nil {
		return err
	}
	defer cl.Close()
	to := o.channel
	if o.users > 0 {
		to = fmt.Sprintf("%d user channels", o.users)
	}
	fmt.Fprintf(out, "publish: %d-byte alarms to %s for %v per mode; %s\n", o.size, to, o.duration, machineInfo())
	t := newTable(out, "mode", "workers", "alarms/s", "requests", "errors", "p50", "p99", "p999", "max", "cpu_s", "µs/alarm", "redis_s")
	r := co.newResult("publish")
	r.add("size", o.size)
	r.add("users", o.users)
	modes := map[string]bool{"single": o.mode != "batch", "batch": o.mode != "single"}
	for _, mode := range []string{"single", "batch"} {
		if !modes[mode] {
			continue
		}
		res := publishMode(ctx, o, cl, co.apiKey, mode)
		w := o.workers
		if mode == "batch" {
			w = o.batchWorkers
		}
		s := res.lat.Summary()
		t.row(mode, w, res.rate(), res.requests, res.errors, s.P50, s.P99, s.P999, s.Max, res.cpu.Seconds(),
			us(res.cpu)/max(1, float64(res.accepted)), res.rcpu.Seconds())
		r.add(mode+"_workers", w)
		r.add(mode+"_per_s", res.rate())
		r.add(mode+"_alarms", res.accepted)
		r.add(mode+"_errors", res.errors)
		r.add(mode+"_p50_ms", ms(s.P50))
		r.add(mode+"_p99_ms", ms(s.P99))
		r.add(mode+"_cpu_us_per_alarm", us(res.cpu)/max(1, float64(res.accepted)))
	}
	fmt.Fprintln(out, r)
	return nil
}

// publishMode runs the workers flat out for o.duration.
func publishMode(ctx context.Context, o *publishOpts, cl *cluster, apiKey, mode string) pubResult {
	kind := cl.cfg.Target
	workers, per := o.workers, 1
	if mode == "batch" {
		workers, per = o.batchWorkers, o.batch
	}
	path, bodies := publishBodies(kind, o, per)
	pub := newPublisher(kind, cl.nodes[0].URL, apiKey, workers)
	res := pubResult{mode: mode, lat: new(hist)}
	var accepted, errs, reqs, turn atomic.Int64
	pids := []int{cl.nodes[0].PID, cl.redisPID}
	before := readProcs(pids)
	dctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	start := time.Now()
	parallel(ctx, workers, workers, func(int) {
		for dctx.Err() == nil {
			body := bodies[(turn.Add(1)-1)%int64(len(bodies))]
			t0 := time.Now()
			st, b, err := pub.post(ctx, path, body)
			res.lat.Record(int64(time.Since(t0)))
			reqs.Add(1)
			ok := countAccepted(kind, mode, st, b, err)
			accepted.Add(int64(ok))
			errs.Add(int64(per - ok))
		}
	})
	res.took = time.Since(start)
	after := readProcs(pids)
	res.accepted, res.errors, res.requests = accepted.Load(), errs.Load(), reqs.Load()
	res.cpu, res.rcpu = after[0].CPU-before[0].CPU, after[1].CPU-before[1].CPU
	return res
}

// publishBodies returns the path and the bodies of the requests that
// publish per alarms each (per 1: single publishes), posted in turn: one
// body with every alarm to o.channel or, with o.users, as many as it
// takes to name every user channel once.
func publishBodies(kind target, o *publishOpts, per int) (string, [][]byte) {
	n := 1
	if o.users > 0 {
		n = (o.users + per - 1) / per
	}
	var path string
	bodies := make([][]byte, n)
	for j := range bodies {
		chans, data := make([]string, per), make([][]byte, per)
		for i := range chans {
			chans[i], data[i] = o.channel, makeData(0, 0, o.size)
			if o.users > 0 {
				chans[i] = "user:bench" + strconv.Itoa((j*per+i)%o.users)
			}
		}
		if per == 1 {
			path, bodies[j] = kind.publishRequest(chans[0], data[0])
		} else {
			path, bodies[j] = kind.batchRequest(chans, data)
		}
	}
	return path, bodies
}

// countAccepted returns how many alarms one answer accepted.
func countAccepted(kind target, mode string, status int, body []byte, err error) int {
	if err != nil {
		return 0
	}
	if mode == "single" {
		if kind.published(status, body) {
			return 1
		}
		return 0
	}
	pos, err := kind.batchPositions(status, body)
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range pos {
		if p != "" {
			n++
		}
	}
	return n
}

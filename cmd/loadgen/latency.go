package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"time"
)

type latencyOpts struct {
	conns    int
	nodes    int
	rate     float64
	duration time.Duration
	warmup   time.Duration
	size     int
	workers  int
	drain    time.Duration
}

func latencyFlags(fs *flag.FlagSet) func(context.Context, *common, io.Writer) error {
	o := &latencyOpts{}
	fs.IntVar(&o.conns, "conns", 2000, "WebSocket connections, each on its own channel user:l<i>, spread over the nodes")
	fs.IntVar(&o.nodes, "nodes", 2, "gateway nodes")
	fs.Float64Var(&o.rate, "rate", 500, "alarms per second, published through node 1, round robin over the channels")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "measured publishing time")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "publishing before the measurement (not counted)")
	fs.IntVar(&o.size, "size", 256, "bytes of alarm data")
	fs.IntVar(&o.workers, "workers", 16, "concurrent publish requests")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "how long to wait for late deliveries")
	return func(ctx context.Context, co *common, out io.Writer) error { return runLatency(ctx, o, co, out) }
}

func runLatency(ctx context.Context, o *latencyOpts, co *common, out io.Writer) error {
	cl, err := co.startCluster(ctx, o.nodes)
	if err != nil {
		return err
	}
	defer cl.Close()
	toks, err := co.kind.tokens(co.secret, "l", o.conns, nil)
	if err != nil {
		return err
	}
	st := new(liveStats)
	lc, err := openLive(ctx, cl, newDialer(co.kind, co.sources(o.conns)), toks, func(i int) int { return i % o.nodes }, st)
	if err != nil {
		return err
	}
	defer lc.Close()
	pub := newPublisher(co.kind, cl.nodes[0].URL, co.apiKey, o.workers)
	fmt.Fprintf(out, "latency: %d connections over %d nodes, %.0f alarms/s through node 1 for %v, %d-byte data; %s\n",
		o.conns, o.nodes, o.rate, o.duration, o.size, machineInfo())
	publishRR(ctx, pub, o, warmupStep, o.warmup, new(hist))
	pids := append(cl.pids(), cl.redisPID, os.Getpid())
	before := readProcs(pids)
	rtt := new(hist)
	ok, bad, pubRate := publishRR(ctx, pub, o, 0, o.duration, rtt)
	sc := &st.steps[0]
	waitCount(ctx, &sc.received, uint64(ok), o.drain)
	after := readProcs(pids)
	cpu := []time.Duration{cpuDelta(before[:o.nodes], after[:o.nodes]),
		after[o.nodes].CPU - before[o.nodes].CPU, after[o.nodes+1].CPU - before[o.nodes+1].CPU}
	return latencyReport(o, co, sc, ok, bad, pubRate, cpu, rtt, out)
}

// publishRR publishes at o.rate for dur, alarm i to channel user:l<i mod
// conns>, and returns how many were accepted and refused and the rate
// achieved. rtt gets each request's round trip, ns.
func publishRR(ctx context.Context, pub *publisher, o *latencyOpts, step int, dur time.Duration, rtt *hist) (int64, int64, float64) {
	chans := make([]string, o.conns)
	for i := range chans {
		chans[i] = "user:l" + strconv.Itoa(i)
	}
	var ok, bad atomic.Int64
	n, took := pace(ctx, o.rate, dur, o.workers, func(i int) {
		start := time.Now()
		accepted := pub.publishOne(ctx, chans[i%len(chans)], makeData(start.UnixNano(), step, o.size))
		rtt.Record(int64(time.Since(start)))
		if accepted {
			ok.Add(1)
		} else {
			bad.Add(1)
		}
	})
	return ok.Load(), bad.Load(), float64(n) / max(took, dur).Seconds()
}

// latencyReport prints the run; cpu is the gateways', Redis's and
// loadgen's CPU time, rtt the publish requests' round trips.
func latencyReport(o *latencyOpts, co *common, sc *stepCounter, ok, bad int64, pubRate float64, cpu []time.Duration, rtt *hist, out io.Writer) error {
	s := sc.lat.Summary()
	recv := sc.received.Load()
	t := newTable(out, "published", "errors", "pub/s", "received", "p50", "p90", "p99", "p999", "max", "mean", "cpu_s", "redis_s", "lg_cpu_s")
	t.row(ok, bad, pubRate, recv, s.P50, s.P90, s.P99, s.P999, s.Max, time.Duration(sc.lat.Mean()), cpu[0].Seconds(), cpu[1].Seconds(), cpu[2].Seconds())
	if co.plotDir != "" {
		if err := plotLatencyCDF(co.plotDir, &sc.lat, o); err != nil {
			return err
		}
	}
	r := co.newResult("latency")
	r.add("conns", o.conns)
	r.add("nodes", o.nodes)
	r.add("rate", o.rate)
	r.add("pub_rate", pubRate)
	r.add("published", ok)
	r.add("errors", bad)
	r.add("received", recv)
	r.add("lost", max(0, ok-int64(recv)))
	r.add("p50_ms", ms(s.P50))
	r.add("p90_ms", ms(s.P90))
	r.add("p99_ms", ms(s.P99))
	r.add("p999_ms", ms(s.P999))
	r.add("max_ms", ms(s.Max))
	// The publish request's round trip, beside the delivery it starts:
	// which part of the latency is the publish path.
	r.add("publish_rtt_p50_ms", ms(time.Duration(rtt.Quantile(0.5))))
	r.add("publish_rtt_p99_ms", ms(time.Duration(rtt.Quantile(0.99))))
	r.add("gateway_cpu_s", cpu[0].Seconds())
	r.add("redis_cpu_s", cpu[1].Seconds())
	r.add("loadgen_cpu_s", cpu[2].Seconds())
	fmt.Fprintln(out, r)
	return nil
}

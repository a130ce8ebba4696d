package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"
)

type memoryOpts struct {
	conns   int
	settle  time.Duration
	afterGC bool
}

func memoryFlags(fs *flag.FlagSet) func(context.Context, *common, io.Writer) error {
	o := &memoryOpts{}
	fs.IntVar(&o.conns, "conns", 10000, "idle WebSocket connections, each on its own channel")
	fs.DurationVar(&o.settle, "settle", 5*time.Second, "wait before each measurement")
	fs.BoolVar(&o.afterGC, "after-gc", false, "after -settle, wait for the gateway's next GC (forced every 2 min when idle) and measure right after it")
	return func(ctx context.Context, co *common, out io.Writer) error { return runMemory(ctx, o, co, out) }
}

// memSample is a node's memory as loadgen sees it.
type memSample struct {
	RSS        int64
	Heap       int64 // go_memstats_heap_inuse_bytes
	Stack      int64 // go_memstats_stack_inuse_bytes
	Goroutines int64
}

func sampleMemory(ctx context.Context, cl *cluster) (memSample, error) {
	var m memSample
	if p, err := readProc(cl.nodes[0].PID); err == nil {
		m.RSS = p.RSS
	}
	if !cl.cfg.Target.heapMetrics() {
		return m, nil // RSS only
	}
	heap, err := cl.metric(ctx, 0, "go_memstats_heap_inuse_bytes")
	if err != nil {
		return m, err
	}
	stack, err := cl.metric(ctx, 0, "go_memstats_stack_inuse_bytes")
	if err != nil {
		return m, err
	}
	g, err := cl.metric(ctx, 0, "go_goroutines")
	if err != nil {
		return m, err
	}
	m.Heap, m.Stack, m.Goroutines = int64(heap), int64(stack), int64(g)
	return m, nil
}

// waitGC returns right after node 0 finished its next GC cycle.
func waitGC(ctx context.Context, cl *cluster, limit time.Duration) error {
	const gcCount = "go_gc_duration_seconds_count"
	n0, err := cl.metric(ctx, 0, gcCount)
	if err != nil {
		return err
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		time.Sleep(200 * time.Millisecond)
		n, err := cl.metric(ctx, 0, gcCount)
		if err != nil {
			return err
		}
		if n > n0 {
			return nil
		}
	}
	return fmt.Errorf("memory: no GC within %v", limit)
}

func runMemory(ctx context.Context, o *memoryOpts, co *common, out io.Writer) error {
	cl, err := co.startCluster(ctx, 1)
	if err != nil {
		return err
	}
	defer cl.Close()
	toks, err := co.kind.tokens(co.secret, "m", o.conns, nil)
	if err != nil {
		return err
	}
	srcs := co.sources(o.conns)
	fmt.Fprintf(out, "memory: %d idle connections from %d source address(es); %s\n", o.conns, srcs, machineInfo())
	time.Sleep(o.settle)
	before, err := sampleMemory(ctx, cl)
	if err != nil {
		return err
	}
	start := time.Now()
	lc, err := openLive(ctx, cl, newDialer(co.kind, srcs), toks, func(int) int { return 0 }, new(liveStats))
	if err != nil {
		return err
	}
	defer lc.Close()
	connectTime := time.Since(start)
	time.Sleep(o.settle)
	if o.afterGC && co.kind.heapMetrics() {
		if err := waitGC(ctx, cl, 150*time.Second); err != nil {
			return err
		}
	}
	after, err := sampleMemory(ctx, cl)
	if err != nil {
		return err
	}
	var self int64
	if p, err := readProc(os.Getpid()); err == nil {
		self = p.RSS
	}
	return memoryReport(o, co, before, after, connectTime, self, out)
}

func memoryReport(o *memoryOpts, co *common, before, after memSample, connectTime time.Duration, self int64, out io.Writer) error {
	n := int64(o.conns)
	rssPer := float64(after.RSS-before.RSS) / float64(n) / 1024
	heapPer := float64(after.Heap-before.Heap) / float64(n) / 1024
	stackPer := float64(after.Stack-before.Stack) / float64(n) / 1024
	gPer := float64(after.Goroutines-before.Goroutines) / float64(n)
	t := newTable(out, "", "rss_mib", "heap_inuse_mib", "stack_inuse_mib", "goroutines")
	t.row("idle node", mib(before.RSS), mib(before.Heap), mib(before.Stack), before.Goroutines)
	t.row("with conns", mib(after.RSS), mib(after.Heap), mib(after.Stack), after.Goroutines)
	t.row("per conn", fmt.Sprintf("%.2fKiB", rssPer), fmt.Sprintf("%.2fKiB", heapPer), fmt.Sprintf("%.2fKiB", stackPer), gPer)
	fmt.Fprintf(out, "connected %d in %v (%.0f/s); loadgen RSS %.0f MiB\n", n, connectTime.Round(time.Millisecond),
		float64(n)/connectTime.Seconds(), mib(self))
	r := co.newResult("memory")
	r.add("conns", o.conns)
	r.add("after_gc", o.afterGC)
	r.add("rss_kib_per_conn", rssPer)
	if co.kind.heapMetrics() {
		r.add("heap_kib_per_conn", heapPer)
		r.add("stack_kib_per_conn", stackPer)
		r.add("goroutines_per_conn", gPer)
	}
	r.add("rss_mib", mib(after.RSS))
	if co.kind.heapMetrics() {
		r.add("heap_inuse_mib", mib(after.Heap))
	}
	r.add("idle_rss_mib", mib(before.RSS))
	r.add("connect_per_s", float64(n)/connectTime.Seconds())
	fmt.Fprintln(out, r)
	return nil
}

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"strconv"
	"sync/atomic"
	"time"
)

type fanoutOpts struct {
	conns       int
	rate        float64
	ramp        bool
	factor      float64
	maxRate     float64
	step        time.Duration
	size        int
	channel     string
	workers     int
	maxP99      time.Duration
	minDelivery float64
	drain       time.Duration
	perf        string
	retry       int
}

func fanoutFlags(fs *flag.FlagSet) func(context.Context, *common, io.Writer) error {
	o := &fanoutOpts{}
	fs.IntVar(&o.conns, "conns", 5000, "WebSocket connections, all on -channel")
	fs.Float64Var(&o.rate, "rate", 2, "alarms per second (the first rate with -ramp)")
	fs.BoolVar(&o.ramp, "ramp", false, "raise the rate step by step until delivery < -min-delivery or p99 > -max-p99")
	fs.Float64Var(&o.factor, "ramp-factor", 1.5, "rate multiplier between ramp steps")
	fs.Float64Var(&o.maxRate, "max-rate", 100000, "highest rate the ramp tries")
	fs.DurationVar(&o.step, "step", 10*time.Second, "publishing time per step")
	fs.IntVar(&o.size, "size", 256, "bytes of alarm data")
	fs.StringVar(&o.channel, "channel", "room:1", "channel every connection is granted and every alarm goes to")
	fs.IntVar(&o.workers, "workers", 16, "concurrent publish requests")
	fs.DurationVar(&o.maxP99, "max-p99", 250*time.Millisecond, "p99 latency a sustained step must stay under")
	fs.Float64Var(&o.minDelivery, "min-delivery", 0.99, "share of expected deliveries a sustained step must reach")
	fs.DurationVar(&o.drain, "drain", 5*time.Second, "how long to wait after a step for late deliveries")
	fs.IntVar(&o.retry, "retry", 1, "with -ramp, repeat a failed step this many times before stopping (the host may be shared)")
	fs.StringVar(&o.perf, "perf", "", "record a perf CPU profile of the gateway during each step into this file (needs perf)")
	return func(ctx context.Context, co *common, out io.Writer) error { return runFanout(ctx, o, co, out) }
}

// stepResult is one fanout step.
type stepResult struct {
	Step      int
	Rate      float64 // asked
	PubRate   float64 // achieved
	Published int64   // accepted (201)
	PubErrors int64
	Expected  uint64
	Received  uint64
	PerSec    float64 // deliveries per second over publish time + drain
	Lat       latencySummary
	CPU       time.Duration // gateway
	RedisCPU  time.Duration
	SelfCPU   time.Duration // loadgen's own
	Open      int64         // receivers still connected
	Pass      bool
	Why       string // why it did not pass
	Retried   bool   // failed, and the ramp tried the same rate again
}

func (r stepResult) ratio() float64 {
	if r.Expected == 0 {
		return 0
	}
	return float64(r.Received) / float64(r.Expected)
}

func (r stepResult) cpuPerDelivery() time.Duration {
	if r.Received == 0 {
		return 0
	}
	return r.CPU / time.Duration(r.Received)
}

func runFanout(ctx context.Context, o *fanoutOpts, co *common, out io.Writer) error {
	cl, err := co.startCluster(ctx, 1)
	if err != nil {
		return err
	}
	defer cl.Close()
	toks, err := co.kind.tokens(co.secret, "f", o.conns, []string{o.channel})
	if err != nil {
		return err
	}
	st := new(liveStats)
	lc, err := openLive(ctx, cl, newDialer(co.kind, co.sources(o.conns)), toks, func(int) int { return 0 }, st)
	if err != nil {
		return err
	}
	defer lc.Close()
	pub := newPublisher(co.kind, cl.nodes[0].URL, co.apiKey, o.workers)
	fmt.Fprintf(out, "fanout: %d connections on %s, %d-byte data, %v per step; %s\n", o.conns, o.channel, o.size, o.step, machineInfo())
	pace(ctx, 5, 2*time.Second, 2, func(int) { pub.publishOne(ctx, o.channel, makeData(time.Now().UnixNano(), warmupStep, o.size)) })
	steps, err := fanoutRamp(ctx, o, cl, pub, st, out)
	if err != nil {
		return err
	}
	return fanoutReport(o, co, cl, steps, out)
}

func fanoutRamp(ctx context.Context, o *fanoutOpts, cl *cluster, pub *publisher, st *liveStats, out io.Writer) ([]stepResult, error) {
	t := newTable(out, "step", "rate/s", "pub/s", "deliv/s", "deliv%", "p50", "p99", "p999", "max", "cpu_s", "µs/deliv", "redis_s", "lg_cpu_s", "open", "pass")
	var steps []stepResult
	rate, failures := o.rate, 0
	for s := 0; s < warmupStep && ctx.Err() == nil; s++ {
		r, err := fanoutStep(ctx, o, cl, pub, st, s, rate)
		if err != nil {
			return steps, err
		}
		if !r.Pass && o.ramp && failures < o.retry {
			failures++
			r.Retried = true // a noisy neighbour gets one more chance at this rate
		}
		steps = append(steps, r)
		t.row(s, r.Rate, r.PubRate, r.PerSec, 100*r.ratio(), r.Lat.P50, r.Lat.P99, r.Lat.P999, r.Lat.Max,
			r.CPU.Seconds(), us(r.cpuPerDelivery()), r.RedisCPU.Seconds(), r.SelfCPU.Seconds(), r.Open, passText(r))
		if r.Retried {
			continue
		}
		next := math.Round(rate * o.factor)
		if !o.ramp || !r.Pass || next > o.maxRate {
			break
		}
		rate, failures = next, 0
	}
	return steps, ctx.Err()
}

func passText(r stepResult) string {
	switch {
	case r.Pass:
		return "yes"
	case r.Retried:
		return "no:" + r.Why + ",retry"
	}
	return "no:" + r.Why
}

// fanoutStep publishes at rate for o.step, waits for the deliveries and
// measures the step.
func fanoutStep(ctx context.Context, o *fanoutOpts, cl *cluster, pub *publisher, st *liveStats, s int, rate float64) (stepResult, error) {
	pids := append(cl.pids(), cl.redisPID, os.Getpid())
	before := readProcs(pids)
	perfDone := startPerf(o.perf, s, cl.nodes[0].PID, o.step)
	var ok, bad atomic.Int64
	n, took := pace(ctx, rate, o.step, o.workers, func(int) {
		if pub.publishOne(ctx, o.channel, makeData(time.Now().UnixNano(), s, o.size)) {
			ok.Add(1)
		} else {
			bad.Add(1)
		}
	})
	sc := &st.steps[s]
	want := uint64(ok.Load()) * uint64(o.conns)
	waited := waitCount(ctx, &sc.received, want, o.drain)
	after := readProcs(pids)
	if perfDone != nil {
		if err := <-perfDone; err != nil {
			return stepResult{}, fmt.Errorf("perf: %w", err)
		}
	}
	r := stepResult{
		Step: s, Rate: rate, PubRate: float64(n) / max(took, o.step).Seconds(),
		Published: ok.Load(), PubErrors: bad.Load(), Expected: want, Received: sc.received.Load(),
		Lat: sc.lat.Summary(), Open: st.open.Load(),
		CPU:      cpuDelta(before[:len(before)-2], after[:len(after)-2]),
		RedisCPU: after[len(after)-2].CPU - before[len(before)-2].CPU,
		SelfCPU:  after[len(after)-1].CPU - before[len(before)-1].CPU,
	}
	r.PerSec = float64(r.Received) / max(took+waited, o.step).Seconds()
	r.Pass, r.Why = judge(r, o)
	return r, nil
}

// judge decides whether a step was sustained.
func judge(r stepResult, o *fanoutOpts) (bool, string) {
	switch {
	case r.PubErrors > 0:
		return false, "errors"
	case r.PubRate < 0.95*r.Rate:
		return false, "pub-rate"
	case r.ratio() < o.minDelivery:
		return false, "delivery"
	case r.Lat.P99 > o.maxP99:
		return false, "p99"
	}
	return true, ""
}

// startPerf records a perf profile of pid for about dur into file (with
// the step number inserted when it has several steps); nil when file is "".
func startPerf(file string, step, pid int, dur time.Duration) chan error {
	if file == "" || pid == 0 {
		return nil
	}
	if step > 0 {
		file = file + "." + strconv.Itoa(step)
	}
	secs := strconv.FormatFloat(max(1, dur.Seconds()-1), 'f', 1, 64)
	cmd := exec.Command("perf", "record", "-F", "999", "-g", "-p", strconv.Itoa(pid), "-o", file, "--", "sleep", secs)
	done := make(chan error, 1)
	go func() {
		b, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, b)
		}
		done <- err
	}()
	return done
}

// bestStep is the sustained step with the most deliveries per second, or
// the last step when none was sustained.
func bestStep(steps []stepResult) (stepResult, bool) {
	var best stepResult
	found := false
	for _, r := range steps {
		if r.Pass && (!found || r.PerSec > best.PerSec) {
			best, found = r, true
		}
	}
	if !found && len(steps) > 0 {
		best = steps[len(steps)-1]
	}
	return best, found
}

// retries counts the steps that were repeated.
func retries(steps []stepResult) int {
	n := 0
	for _, r := range steps {
		if r.Retried {
			n++
		}
	}
	return n
}

func fanoutReport(o *fanoutOpts, co *common, cl *cluster, steps []stepResult, out io.Writer) error {
	best, sustained := bestStep(steps)
	var hwm int64
	if p, err := readProc(cl.nodes[0].PID); err == nil {
		hwm = p.HWM
	}
	last := steps[len(steps)-1]
	fmt.Fprintf(out, "best sustained: %.0f deliveries/s at %.4g alarms/s (p50 %s, p99 %s, p999 %s, %.2f µs gateway CPU per delivery); peak RSS %.1f MiB\n",
		best.PerSec, best.Rate, fmtDur(best.Lat.P50), fmtDur(best.Lat.P99), fmtDur(best.Lat.P999), us(best.cpuPerDelivery()), mib(hwm))
	if co.plotDir != "" {
		if err := plotFanout(co.plotDir, steps, o); err != nil {
			return err
		}
	}
	r := co.newResult("fanout")
	r.add("conns", o.conns)
	r.add("size", o.size)
	r.add("rate", o.rate)
	r.add("ramp", o.ramp)
	r.add("steps", len(steps))
	r.add("sustained", sustained)
	r.add("best_rate", best.Rate)
	r.add("deliveries_per_s", best.PerSec)
	r.add("delivery_pct", 100*best.ratio())
	r.add("p50_ms", ms(best.Lat.P50))
	r.add("p99_ms", ms(best.Lat.P99))
	r.add("p999_ms", ms(best.Lat.P999))
	r.add("cpu_us_per_delivery", us(best.cpuPerDelivery()))
	r.add("redis_cpu_s", best.RedisCPU.Seconds())
	r.add("loadgen_cpu_s", best.SelfCPU.Seconds())
	r.add("peak_rss_mib", mib(hwm))
	r.add("last_rate", last.Rate)
	r.add("retries", retries(steps))
	r.add("stop", passText(last))
	fmt.Fprintln(out, r)
	return nil
}

package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/protocol"
)

type stormOpts struct {
	conns   int
	per     int
	window  int
	batch   int
	workers int
	par     int
	quiet   time.Duration
	timeout time.Duration
	size    int
	profile string // CPU profile of node B over the resume phase
}

func stormFlags(fs *flag.FlagSet) func(context.Context, *common, io.Writer) error {
	o := &stormOpts{}
	fs.IntVar(&o.conns, "conns", 2000, "clients, each on its own channel user:s<i>, all on node A")
	fs.IntVar(&o.per, "per", 20, "alarms published to each channel while node A is dead")
	fs.IntVar(&o.window, "window", 0, "GATEWAY_WINDOW of the started nodes (0: the gateway's default)")
	fs.IntVar(&o.batch, "batch", 100, "alarms per publish batch")
	fs.IntVar(&o.workers, "workers", 8, "concurrent publish batches")
	fs.IntVar(&o.par, "par", 0, "reconnects in flight at once (0: all clients at once)")
	fs.DurationVar(&o.quiet, "quiet", 3*time.Second, "idle time to measure Redis's background command rate")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "limit for the resume phase")
	fs.IntVar(&o.size, "size", 256, "bytes of alarm data")
	fs.StringVar(&o.profile, "profile", "", "with -pprof-base: write node B's CPU profile of the resume phase (2 s) to this file")
	return func(ctx context.Context, co *common, out io.Writer) error { return runStorm(ctx, o, co, out) }
}

// stormClient is one client across the kill.
type stormClient struct {
	tok     string
	channel string
	lastID  string // position before the kill
	epoch   string

	mu       sync.Mutex // guards what follows
	status   protocol.Status
	replayed int
	tr       tracker
	dialed   time.Time // the hello of the resume was sent
	welcomed time.Time
	doneAt   time.Time
}

func runStorm(ctx context.Context, o *stormOpts, co *common, out io.Writer) error {
	window := o.window
	var env []string
	if window == 0 {
		window = hub.DefaultWindow
	} else {
		env = append(env, "GATEWAY_WINDOW="+strconv.Itoa(window))
	}
	cl, err := co.startCluster(ctx, 2, env...)
	if err != nil {
		return err
	}
	defer cl.Close()
	clients, err := stormClients(co, o)
	if err != nil {
		return err
	}
	keep := fmt.Sprintf("window %d", window)
	if _, ok := co.kind.(centrifugo); ok {
		keep = fmt.Sprintf("history_size %d", co.peerHistory)
	}
	fmt.Fprintf(out, "storm: %s: %d clients on node A, SIGKILL A, %d alarms per channel through B, all resume on B (%s); %s\n",
		co.kind.Name(), o.conns, o.per, keep, machineInfo())
	d := newDialer(co.kind, co.sources(o.conns))
	pub := newPublisher(co.kind, cl.nodes[1].URL, co.apiKey, o.workers)
	if err := stormBefore(ctx, o, cl, d, pub, clients); err != nil {
		return err
	}
	if err := stormPublish(ctx, o, pub, clients); err != nil {
		return err
	}
	return stormResume(ctx, o, co, cl, d, clients, out)
}

func stormClients(co *common, o *stormOpts) ([]*stormClient, error) {
	toks, err := co.kind.tokens(co.secret, "s", o.conns, nil)
	if err != nil {
		return nil, err
	}
	out := make([]*stormClient, o.conns)
	for i := range out {
		out[i] = &stormClient{tok: toks[i], channel: "user:s" + strconv.Itoa(i)}
	}
	return out, nil
}

// stormBefore connects every client to node A, publishes one alarm per
// channel so each client holds a real last id, then kills A.
func stormBefore(ctx context.Context, o *stormOpts, cl *cluster, d *dialer, pub *publisher, clients []*stormClient) error {
	var readers, firsts sync.WaitGroup
	firsts.Add(len(clients))
	failed, err := connectAll(ctx, len(clients), 64, func(ctx context.Context, i int) error {
		sc := clients[i]
		c, err := d.dial(ctx, cl.nodes[0].WS(), sc.tok, nil)
		if err != nil {
			firsts.Done()
			return err
		}
		welcomed := make(chan struct{})
		var first sync.Once
		readers.Go(func() {
			_ = readLoop(c, d.kind, handler{
				Welcome: func(w welcome, _ time.Time) { sc.lastID, sc.epoch = w.Position, w.Epoch; close(welcomed) },
				Alarm: func(a benchAlarm, _ time.Time) {
					sc.lastID = string(a.ID)
					first.Do(firsts.Done)
				},
			})
		})
		return waitFor(ctx, welcomed, 30*time.Second)
	})
	if err != nil {
		return fmt.Errorf("storm: connect to A: %d clients failed: %w", failed, err)
	}
	if _, err := publishEach(ctx, o, pub, clients, 1); err != nil {
		return err
	}
	if err := waitGroup(ctx, &firsts, 30*time.Second); err != nil {
		return errors.New("storm: not every client got its first alarm")
	}
	if err := cl.kill(0); err != nil {
		return err
	}
	if err := waitGroup(ctx, &readers, 30*time.Second); err != nil {
		return errors.New("storm: clients did not notice the kill")
	}
	return nil
}

// waitGroup waits for wg, up to limit.
func waitGroup(ctx context.Context, wg *sync.WaitGroup, limit time.Duration) error {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	return waitFor(ctx, done, limit)
}

// publishEach publishes per alarms to every client's channel in batches
// and returns the accepted ids per client, ascending.
func publishEach(ctx context.Context, o *stormOpts, pub *publisher, clients []*stormClient, per int) ([][]alarmID, error) {
	items := make([]int, 0, len(clients)*per)
	for range per {
		for i := range clients {
			items = append(items, i)
		}
	}
	ids := make([][]alarmID, len(clients))
	var mu sync.Mutex
	var firstErr error
	nb := (len(items) + o.batch - 1) / o.batch
	parallel(ctx, nb, o.workers, func(b int) {
		part := items[b*o.batch : min(len(items), (b+1)*o.batch)]
		chans, data := make([]string, len(part)), make([][]byte, len(part))
		for k, i := range part {
			chans[k], data[k] = clients[i].channel, makeData(time.Now().UnixNano(), 0, o.size)
		}
		got, err := pub.publishBatch(ctx, chans, data)
		mu.Lock()
		defer mu.Unlock()
		if err == nil && len(got) != len(part) {
			err = errors.New("storm: batch answered the wrong number of results")
		}
		if err != nil {
			firstErr = cmp.Or(firstErr, err)
			return
		}
		for k, i := range part {
			if id, ok := parsePosition([]byte(got[k])); ok {
				ids[i] = append(ids[i], id)
			} else {
				firstErr = cmp.Or(firstErr, fmt.Errorf("storm: alarm refused in batch"))
			}
		}
	})
	for _, l := range ids {
		slices.SortFunc(l, alarmID.compare)
	}
	return ids, firstErr
}

// stormPublish publishes o.per alarms to every channel through node B
// while A is dead and records what each client must get.
func stormPublish(ctx context.Context, o *stormOpts, pub *publisher, clients []*stormClient) error {
	ids, err := publishEach(ctx, o, pub, clients, o.per)
	if err != nil {
		return err
	}
	for i, sc := range clients {
		sc.tr.expected = ids[i]
	}
	return nil
}

func (sc *stormClient) onWelcome(finish func()) func(welcome, time.Time) {
	return func(w welcome, now time.Time) {
		sc.mu.Lock()
		defer sc.mu.Unlock()
		sc.status, sc.replayed, sc.welcomed = w.Status, w.Replayed, now
		if w.Status != protocol.StatusResumed || len(sc.tr.expected) == 0 {
			sc.doneAt = sc.welcomed
			finish()
		}
	}
}

func (sc *stormClient) onAlarm(finish func()) func(benchAlarm, time.Time) {
	return func(a benchAlarm, now time.Time) {
		id, ok := parsePosition(a.ID)
		if !ok {
			return
		}
		sc.mu.Lock()
		defer sc.mu.Unlock()
		if sc.tr.add(id) && sc.doneAt.IsZero() {
			sc.doneAt = now
			finish()
		}
	}
}

// stormResume measures Redis's quiet command rate, then reconnects every
// client to node B with its last id and waits until each has all its
// alarms (or a non-resumed welcome).
func stormResume(ctx context.Context, o *stormOpts, co *common, cl *cluster, d *dialer, clients []*stormClient, out io.Writer) error {
	cs0, err := cl.commandStats(ctx)
	if err != nil {
		return err
	}
	time.Sleep(o.quiet)
	cs1, err := cl.commandStats(ctx)
	if err != nil {
		return err
	}
	_, quiet := diffCommandStats(cs0, cs1)
	par := o.par
	if par <= 0 {
		par = len(clients)
	}
	conns := make([]*websocket.Conn, len(clients))
	var readers sync.WaitGroup
	var started atomic.Int64
	profiled := profileNode(ctx, co, o.profile, 1, 2*time.Second)
	pids := []int{cl.nodes[1].PID, cl.redisPID, os.Getpid()}
	cpu0 := readProcs(pids)
	start := time.Now()
	failed, cerr := connectAll(ctx, len(clients), par, func(ctx context.Context, i int) error {
		sc := clients[i]
		c, err := d.dial(ctx, cl.nodes[1].WS(), sc.tok, &resumeFrom{Channel: sc.channel, Position: sc.lastID, Epoch: sc.epoch})
		if err != nil {
			return err
		}
		conns[i] = c
		started.Add(1)
		sc.mu.Lock()
		sc.dialed = time.Now()
		sc.mu.Unlock()
		done := make(chan struct{})
		var once sync.Once
		finish := func() { once.Do(func() { close(done) }) }
		readers.Go(func() {
			_ = readLoop(c, d.kind, handler{Welcome: sc.onWelcome(finish), Alarm: sc.onAlarm(finish)})
			finish()
		})
		return waitFor(ctx, done, o.timeout)
	})
	end := time.Now()
	cpu1 := readProcs(pids)
	cs2, err := cl.commandStats(ctx)
	for _, c := range conns {
		if c != nil {
			_ = c.CloseNow()
		}
	}
	readers.Wait()
	if perr := <-profiled; perr != nil {
		fmt.Fprintf(out, "storm: profile: %v\n", perr)
	}
	if err != nil {
		return err
	}
	deltas, total := diffCommandStats(cs1, cs2)
	rep := stormReport{o: o, co: co, start: start, end: end, failed: failed, connErr: cerr, deltas: deltas, total: total,
		background: float64(quiet) / o.quiet.Seconds() * end.Sub(start).Seconds()}
	for i := range cpu1 {
		rep.cpu[i] = cpuDelta(cpu0[i:i+1], cpu1[i:i+1])
	}
	return rep.print(clients, out)
}

type stormReport struct {
	o          *stormOpts
	co         *common
	start, end time.Time
	failed     int
	connErr    error
	deltas     []cmdDelta
	total      int64
	background float64          // commands expected from the nodes' own timers over the phase
	cpu        [3]time.Duration // CPU over the phase: node B, Redis, loadgen
}

func (rep *stormReport) print(clients []*stormClient, out io.Writer) error {
	statuses := map[string]int{}
	var lost, dups, unknown, replayed, received int
	var lastWelcome, lastDone, lastDialed time.Duration
	var waits []time.Duration // from the hello to the welcome
	complete := 0
	for _, sc := range clients {
		sc.mu.Lock()
		statuses[cmp.Or(string(sc.status), "none")]++
		lost += sc.tr.lost()
		dups += sc.tr.dups
		unknown += sc.tr.unknown
		replayed += sc.replayed
		received += sc.tr.received
		if !sc.dialed.IsZero() {
			lastDialed = max(lastDialed, sc.dialed.Sub(rep.start))
		}
		if !sc.welcomed.IsZero() {
			lastWelcome = max(lastWelcome, sc.welcomed.Sub(rep.start))
			waits = append(waits, sc.welcomed.Sub(sc.dialed))
		}
		if !sc.doneAt.IsZero() && sc.status == protocol.StatusResumed {
			complete++
			lastDone = max(lastDone, sc.doneAt.Sub(rep.start))
		}
		sc.mu.Unlock()
	}
	n := len(clients)
	perClient := float64(rep.total) / float64(n)
	adjusted := max(0, float64(rep.total)-rep.background) / float64(n)
	t := newTable(out, "clients", "resumed", "complete", "all_welcomed", "all_complete", "replayed", "received", "lost", "dups", "unexpected", "redis_cmds", "cmds/client")
	t.row(n, statuses["resumed"], complete, lastWelcome, lastDone, replayed, received, lost, dups, unknown, rep.total, perClient)
	slices.Sort(waits)
	fmt.Fprintf(out, "all hellos sent after %v; hello to welcome p50 %v, p99 %v, max %v\n", lastDialed.Round(time.Millisecond),
		quantile(waits, 0.5).Round(time.Millisecond), quantile(waits, 0.99).Round(time.Millisecond), quantile(waits, 1).Round(time.Millisecond))
	fmt.Fprintf(out, "cpu over the phase: node B %v, redis %v, loadgen %v\n", rep.cpu[0], rep.cpu[1], rep.cpu[2])
	fmt.Fprintf(out, "statuses: %v; failed connects: %d", statuses, rep.failed)
	if rep.connErr != nil {
		fmt.Fprintf(out, " (first: %v)", rep.connErr)
	}
	fmt.Fprintf(out, "\nredis commands during the resume phase (%v): %s; background estimate %.1f\n",
		rep.end.Sub(rep.start).Round(time.Millisecond), formatDeltas(rep.deltas), rep.background)
	r := rep.co.newResult("storm")
	r.add("conns", n)
	r.add("per", rep.o.per)
	r.add("resumed", statuses["resumed"])
	r.add("complete", complete)
	r.add("all_welcomed_s", lastWelcome)
	r.add("all_complete_s", lastDone)
	r.add("all_dialed_s", lastDialed)
	r.add("welcome_wait_p50_s", quantile(waits, 0.5))
	r.add("phase_s", rep.end.Sub(rep.start))
	r.add("node_cpu_s", rep.cpu[0])
	r.add("redis_cpu_s", rep.cpu[1])
	r.add("loadgen_cpu_s", rep.cpu[2])
	r.add("lost", lost)
	r.add("dups", dups)
	r.add("unexpected", unknown)
	r.add("redis_cmds", rep.total)
	r.add("cmds_per_client", perClient)
	r.add("cmds_per_client_minus_background", adjusted)
	r.add("commands", formatDeltas(rep.deltas))
	fmt.Fprintln(out, r)
	return nil
}

// profileNode starts a CPU profile of started node i (served at
// -pprof-base + i) for d, written to file, and returns once the profile
// has begun; the channel reports how it ended. Without file it does
// nothing.
func profileNode(ctx context.Context, co *common, file string, i int, d time.Duration) <-chan error {
	done := make(chan error, 1)
	if file == "" {
		done <- nil
		return done
	}
	if co.pprofBase <= 0 {
		done <- fmt.Errorf("-profile needs -pprof-base")
		return done
	}
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", co.pprofBase+i, int(d.Seconds()))
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			done <- err
			return
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- err
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("%s: %s", url, resp.Status)
		}
		if err == nil {
			err = os.WriteFile(file, b, 0o644)
		}
		done <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the profile begin
	return done
}

// quantile returns the q quantile of sorted (0 when empty).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

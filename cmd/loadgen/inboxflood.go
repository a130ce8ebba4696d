package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The inbox-flood workload: one hostile user floods its inbox with state
// changes and reads while another tenant, the victim, publishes to its own
// inbox and receives. Each phase reports the victim's latencies and what
// the flood sent, what the gateway accepted and refused, and what it cost
// Redis.

const (
	hostileSub = "hostile0" // the hostile user: tokens(…, "hostile", 1, …)
	victimSub  = "victim0"
	// floodUpTo marks all read: an id newer than every alarm.
	floodUpTo = "99999999999999-0"
)

// loadgenSettings are the settings startGateway gives every gateway that
// differ from the defaults (cluster.go); the per-user inbox limits are not
// among them.
const loadgenSettings = "GATEWAY_PUBLISH_RATE=-1 GATEWAY_CONNECT_RATE=-1 GATEWAY_LOG_LEVEL=warn GATEWAY_DRAIN_DELAY=1ms GATEWAY_CLOSE_SPREAD=1ms"

// floodPhase names a phase: Name in the table, Key the prefix of its
// RESULT keys. A phase's index is the step its victim alarms carry.
type floodPhase struct{ Name, Key string }

var floodPhases = []floodPhase{
	{"baseline", "base"}, // no flood
	{"ws-state", "ws"},   // state changes over the hostile user's WebSockets
	{"http", "http"},     // GET /v1/inbox and POST /v1/inbox/state
}

type floodOpts struct {
	rate      float64
	size      int
	workers   int
	phase     time.Duration
	warmup    time.Duration
	drain     time.Duration
	fill      int
	fillSize  int
	ws        int
	wsWindow  int
	reads     int
	httpState int
}

func inboxFloodFlags(fs *flag.FlagSet) func(context.Context, *common, io.Writer) error {
	o := &floodOpts{}
	fs.Float64Var(&o.rate, "rate", 200, "the victim's alarms per second: single POST /v1/alarms to its inbox user:"+victimSub)
	fs.IntVar(&o.size, "size", 256, "bytes of the victim's alarm data")
	fs.IntVar(&o.workers, "workers", 8, "the victim publisher's concurrent requests")
	fs.DurationVar(&o.phase, "phase", 15*time.Second, "length of each phase (baseline, ws-state, http)")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "victim publishing before the first phase (not counted)")
	fs.DurationVar(&o.drain, "drain", 3*time.Second, "longest wait for the victim's late deliveries after a phase")
	fs.IntVar(&o.fill, "fill", 1000, "alarms in the hostile user's inbox (user:"+hostileSub+"), all marked read")
	fs.IntVar(&o.fillSize, "fill-size", 4096, "bytes of data of each hostile inbox alarm")
	fs.IntVar(&o.ws, "ws", 8, "hostile WebSockets sending state changes in a tight loop (ws-state)")
	fs.IntVar(&o.wsWindow, "ws-window", 256, "state messages a hostile WebSocket sends before it waits for the gateway to have answered them")
	fs.IntVar(&o.reads, "reads", 8, "hostile GET /v1/inbox loops, limit=1 and limit=50 alternately (http)")
	fs.IntVar(&o.httpState, "http-state", 4, "hostile POST /v1/inbox/state loops with the API key and ?user= (http)")
	return func(ctx context.Context, co *common, out io.Writer) error { return runInboxFlood(ctx, o, co, out) }
}

// floodEnv is one run's setup.
type floodEnv struct {
	o        *floodOpts
	cl       *cluster
	pub      *publisher   // the victim's publisher (API key)
	hc       *http.Client // the hostile HTTP loops
	apiKey   string
	token    string // the hostile user's client token
	toggleID string // a hostile inbox alarm the floods mark read and unread
	st       *liveStats
	hostile  []*hostileConn
	pids     []int // gateway, redis-server, loadgen
}

func runInboxFlood(ctx context.Context, o *floodOpts, co *common, out io.Writer) error {
	if _, ok := co.kind.(alarmgate); !ok {
		return errors.New("inbox-flood: the gateway only (the peer has no inbox)")
	}
	if o.wsWindow < 1 || o.rate <= 0 || o.workers < 1 {
		return errors.New("inbox-flood: -ws-window and -workers must be at least 1, -rate above 0")
	}
	cl, err := co.startCluster(ctx, 1)
	if err != nil {
		return err
	}
	defer cl.Close()
	e := &floodEnv{o: o, cl: cl, apiKey: co.apiKey, st: new(liveStats),
		pub:  newPublisher(co.kind, cl.nodes[0].URL, co.apiKey, o.workers),
		hc:   &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.reads + o.httpState, DisableCompression: true}},
		pids: []int{cl.nodes[0].PID, cl.redisPID, os.Getpid()}}
	defer e.hc.CloseIdleConnections()
	if err := e.fillInbox(ctx); err != nil {
		return err
	}
	defer e.closeHostile()
	lc, err := e.connect(ctx, co)
	if err != nil {
		return err
	}
	defer lc.Close()
	fmt.Fprintf(out, "inbox-flood: victim user:%s at %.0f alarms/s (%d-byte data, single POST /v1/alarms), hostile user:%s with %d alarms of %d bytes, all read; %v per phase; %s\n",
		victimSub, o.rate, o.size, hostileSub, o.fill, o.fillSize, o.phase, machineInfo())
	fmt.Fprintf(out, "gateway: defaults (per-user limits included) except loadgen's %s%s\n", loadgenSettings, envNote(co.env))
	e.victim(ctx, warmupStep, o.warmup, nil)
	var phases []phaseResult
	for i := range floodPhases {
		p, err := e.runPhase(ctx, i)
		if err != nil {
			return fmt.Errorf("inbox-flood: %s: %w", floodPhases[i].Name, err)
		}
		phases = append(phases, p)
	}
	floodTable(out, phases)
	fmt.Fprintln(out, floodResult(co, o, phases))
	return nil
}

// envNote labels -env settings.
func envNote(env string) string {
	if env == "" {
		return ""
	}
	return "; then -env " + env
}

// fillInbox publishes o.fill alarms to the hostile user's inbox in batches
// and marks them all read.
func (e *floodEnv) fillInbox(ctx context.Context) error {
	const batch = 250
	for done := 0; done < e.o.fill; done += batch {
		n := min(batch, e.o.fill-done)
		chans, data := make([]string, n), make([][]byte, n)
		for i := range n {
			chans[i], data[i] = "user:"+hostileSub, makeData(0, 0, e.o.fillSize)
		}
		ids, err := e.pub.publishBatch(ctx, chans, data)
		if err != nil {
			return fmt.Errorf("inbox-flood: fill: %w", err)
		}
		for _, id := range ids {
			if id == "" {
				return errors.New("inbox-flood: fill: an alarm was refused")
			}
			e.toggleID = id
		}
	}
	st, b, err := e.pub.post(ctx, "/v1/inbox/state?user="+hostileSub, []byte(`{"op":"read","up_to":"`+floodUpTo+`"}`))
	var ans struct{ Changed int }
	if err == nil && st == http.StatusOK {
		err = json.Unmarshal(b, &ans)
	}
	if err != nil || st != http.StatusOK || ans.Changed != e.o.fill {
		return fmt.Errorf("inbox-flood: mark all read: %d %.200s %v", st, b, err)
	}
	return nil
}

// connect opens the victim's WebSocket and the hostile user's, and mints
// the hostile user's token for its HTTP loops.
func (e *floodEnv) connect(ctx context.Context, co *common) (*liveConns, error) {
	vt, err := tokens(co.secret, "victim", 1, nil)
	if err != nil {
		return nil, err
	}
	ht, err := tokens(co.secret, "hostile", 1, nil)
	if err != nil {
		return nil, err
	}
	e.token = ht[0]
	d := newDialer(co.kind, 1)
	lc, err := openLive(ctx, e.cl, d, vt, func(int) int { return 0 }, e.st)
	if err != nil {
		return nil, err
	}
	for range e.o.ws {
		h, err := dialHostile(ctx, d, e.cl.nodes[0].WS(), e.token)
		if err != nil {
			lc.Close()
			return nil, err
		}
		e.hostile = append(e.hostile, h)
	}
	return lc, nil
}

func (e *floodEnv) closeHostile() {
	for _, h := range e.hostile {
		_ = h.c.CloseNow()
		<-h.done
	}
}

// victim publishes to the victim's inbox at o.rate for dur, its alarms
// tagged with step, recording each request's round trip into lat (when
// not nil); it returns the alarms accepted and refused and the rate
// achieved.
func (e *floodEnv) victim(ctx context.Context, step int, dur time.Duration, lat *hist) (ok, bad int64, rate float64) {
	var okN, badN atomic.Int64
	n, took := pace(ctx, e.o.rate, dur, e.o.workers, func(int) {
		start := time.Now()
		if e.pub.publishOne(ctx, "user:"+victimSub, makeData(start.UnixNano(), step, e.o.size)) {
			okN.Add(1)
		} else {
			badN.Add(1)
		}
		if lat != nil {
			lat.Record(int64(time.Since(start)))
		}
	})
	return okN.Load(), badN.Load(), float64(n) / max(took, dur).Seconds()
}

// phaseResult is what one phase measured.
type phaseResult struct {
	floodPhase
	Load1      float64        // at the phase's end
	Pub, Del   latencySummary // the victim's publish round trip and delivery
	Published  int64          // victim alarms accepted
	PubErrors  int64
	PubRate    float64
	Received   uint64 // victim alarms delivered
	Flood      floodTotals
	GwLimited  float64 // alarmgate_limited_total's growth
	RedisCmds  int64   // commands Redis ran (INFO commandstats, INFO left out)
	RedisTop   string  // the most frequent of them
	RedisCPU   time.Duration
	GatewayCPU time.Duration
	LoadgenCPU time.Duration
}

// floodTotals counts the hostile requests of a phase; Accepted is Sent
// less the refused ones.
type floodTotals struct{ Sent, Accepted, Limited, Failed int64 }

// floodCounts is floodTotals as the flood loops count it, and the first
// error that ended a loop.
type floodCounts struct {
	sent, accepted, limited, failed atomic.Int64
	mu                              sync.Mutex
	err                             error // guarded by mu
}

func (c *floodCounts) setErr(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil {
		c.err = err
	}
}

// runPhase runs phase i: the victim publishes for o.phase while the
// phase's flood runs; then the flood stops, its answers are awaited, and
// the victim's late deliveries.
func (e *floodEnv) runPhase(ctx context.Context, i int) (phaseResult, error) {
	p := phaseResult{floodPhase: floodPhases[i]}
	before := e.snap(ctx)
	fctx, stop := context.WithCancel(ctx)
	var cnt floodCounts
	var wg sync.WaitGroup
	switch p.Key {
	case "ws":
		e.startWS(fctx, &wg, &cnt)
	case "http":
		e.startHTTP(fctx, &wg, &cnt)
	}
	pubLat := new(hist)
	p.Published, p.PubErrors, p.PubRate = e.victim(ctx, i, e.o.phase, pubLat)
	stop()
	wg.Wait()
	if cnt.err != nil { // wg.Wait orders the write before this read
		return p, cnt.err
	}
	for _, h := range e.hostile {
		if err := h.sync(ctx); err != nil {
			return p, err
		}
	}
	after := e.snap(ctx)
	sc := &e.st.steps[i]
	waitCount(ctx, &sc.received, uint64(p.Published), e.o.drain)
	p.Load1, p.Pub, p.Del, p.Received = loadAvg(), pubLat.Summary(), sc.lat.Summary(), sc.received.Load()
	p.Flood = floodTotals{Sent: cnt.sent.Load(), Accepted: cnt.accepted.Load(), Limited: cnt.limited.Load(), Failed: cnt.failed.Load()}
	if p.Key == "ws" { // the WebSocket answers only refusals
		p.Flood.Limited = after.wsLimited - before.wsLimited
		p.Flood.Failed = after.wsFailed - before.wsFailed
		p.Flood.Accepted = p.Flood.Sent - p.Flood.Limited - p.Flood.Failed
	}
	p.GwLimited = after.limited - before.limited
	ds, total := diffCommandStats(before.cmds, after.cmds)
	p.RedisCmds, p.RedisTop = total, formatDeltas(ds[:min(3, len(ds))])
	p.RedisCPU = after.redisCPU - before.redisCPU
	p.GatewayCPU = after.procs[0].CPU - before.procs[0].CPU
	p.LoadgenCPU = after.procs[2].CPU - before.procs[2].CPU
	return p, nil
}

// floodSnap is what runPhase reads before and after a phase.
type floodSnap struct {
	redisCPU            time.Duration // INFO cpu used_cpu_sys + used_cpu_user
	cmds                map[string]cmdStat
	procs               []procSample
	limited             float64 // alarmgate_limited_total
	wsLimited, wsFailed int64   // error answers on the hostile WebSockets
}

func (e *floodEnv) snap(ctx context.Context) floodSnap {
	s := floodSnap{procs: readProcs(e.pids)}
	if e.cl.rdb != nil {
		ictx, cancel := context.WithTimeout(ctx, 5*time.Second)
		info, err := e.cl.rdb.Info(ictx, "cpu", "commandstats").Result()
		cancel()
		if err == nil {
			s.redisCPU, s.cmds = parseInfoCPU(info), parseCommandStats(info)
		}
	}
	s.limited, _ = e.cl.metric(ctx, 0, "alarmgate_limited_total") // absent until a first refusal
	for _, h := range e.hostile {
		s.wsLimited += h.limited.Load()
		s.wsFailed += h.failed.Load()
	}
	return s
}

// parseInfoCPU returns used_cpu_sys + used_cpu_user of Redis INFO cpu.
func parseInfoCPU(info string) time.Duration {
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || (k != "used_cpu_sys" && k != "used_cpu_user") {
			continue
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			sum += f
		}
	}
	return time.Duration(sum * float64(time.Second))
}

// floodBodies returns the hostile state changes as POST /v1/inbox/state
// bodies, by role: 0 marks all read up to id (a no-op once all are read),
// 1 toggles id read and unread.
func floodBodies(id string) [2][][]byte {
	return [2][][]byte{
		{[]byte(`{"op":"read","up_to":"` + floodUpTo + `"}`)},
		{[]byte(`{"op":"read","ids":["` + id + `"]}`), []byte(`{"op":"unread","ids":["` + id + `"]}`)},
	}
}

// asWS turns a state body into the WebSocket state message.
func asWS(body []byte) []byte {
	return append([]byte(`{"type":"state",`), body[1:]...)
}

// startWS starts one tight write loop per hostile WebSocket, half of them
// marking all read, half toggling one alarm.
func (e *floodEnv) startWS(ctx context.Context, wg *sync.WaitGroup, cnt *floodCounts) {
	bodies := floodBodies(e.toggleID)
	for i, h := range e.hostile {
		var msgs [][]byte
		for _, b := range bodies[i%2] {
			msgs = append(msgs, asWS(b))
		}
		wg.Go(func() {
			n, err := h.flood(ctx, msgs, e.o.wsWindow)
			cnt.sent.Add(n)
			if err != nil {
				cnt.setErr(err)
			}
		})
	}
}

// startHTTP starts the hostile HTTP loops: inbox reads with the user's
// token, and state changes with the API key and ?user=.
func (e *floodEnv) startHTTP(ctx context.Context, wg *sync.WaitGroup, cnt *floodCounts) {
	for i := range e.o.reads {
		path := "/v1/inbox?limit=1"
		if i%2 == 1 {
			path = "/v1/inbox?limit=50"
		}
		wg.Go(func() { e.httpLoop(ctx, http.MethodGet, path, e.token, nil, cnt) })
	}
	bodies := floodBodies(e.toggleID)
	for i := range e.o.httpState {
		wg.Go(func() {
			e.httpLoop(ctx, http.MethodPost, "/v1/inbox/state?user="+hostileSub, e.apiKey, bodies[i%2], cnt)
		})
	}
}

// httpLoop sends requests back to back until ctx ends (bodies in turn;
// none: a GET) and counts their answers.
func (e *floodEnv) httpLoop(ctx context.Context, method, path, token string, bodies [][]byte, cnt *floodCounts) {
	for n := 0; ctx.Err() == nil; n++ {
		var body []byte
		if len(bodies) > 0 {
			body = bodies[n%len(bodies)]
		}
		st, err := e.do(method, path, token, body)
		cnt.sent.Add(1)
		switch {
		case err != nil:
			cnt.failed.Add(1)
			time.Sleep(10 * time.Millisecond) // do not spin on a refused connection
		case st == http.StatusOK:
			cnt.accepted.Add(1)
		case st == http.StatusTooManyRequests:
			cnt.limited.Add(1)
		default:
			cnt.failed.Add(1)
		}
	}
}

// do sends one hostile request (its own deadline: a phase's end does not
// cut it) and returns the status, having read the answer.
func (e *floodEnv) do(method, path, token string, body []byte) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.cl.nodes[0].URL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// p99Ratio is p's victim p99 over the baseline's (0 without a baseline).
func p99Ratio(p, base time.Duration) float64 {
	if base <= 0 {
		return 0
	}
	return float64(p) / float64(base)
}

// floodTable prints one row per phase; phases[0] is the baseline the
// ratios divide by.
func floodTable(out io.Writer, phases []phaseResult) {
	if len(phases) == 0 {
		return
	}
	base := phases[0]
	t := newTable(out, "phase", "load1", "pub_p50", "pub_p99", "pub_max", "del_p50", "del_p99", "del_max",
		"pub_p99_x", "del_p99_x", "pub_err", "lost", "sent", "accepted", "limited", "redis_cpu_s", "gw_cpu_s", "lg_cpu_s")
	for _, p := range phases {
		t.row(p.Name, p.Load1, p.Pub.P50, p.Pub.P99, p.Pub.Max, p.Del.P50, p.Del.P99, p.Del.Max,
			p99Ratio(p.Pub.P99, base.Pub.P99), p99Ratio(p.Del.P99, base.Del.P99), p.PubErrors, p.lost(),
			p.Flood.Sent, p.Flood.Accepted, p.Flood.Limited,
			p.RedisCPU.Seconds(), p.GatewayCPU.Seconds(), p.LoadgenCPU.Seconds())
	}
	for _, p := range phases[1:] {
		verdict := "within"
		if p99Ratio(p.Pub.P99, base.Pub.P99) > 2 || p99Ratio(p.Del.P99, base.Del.P99) > 2 {
			verdict = "NOT within"
		}
		fmt.Fprintf(out, "%s: victim p99 %s of the baseline's (publish %.2fx, delivery %.2fx); Redis ran %d commands (%s)\n",
			p.Name, verdict+" 2x", p99Ratio(p.Pub.P99, base.Pub.P99), p99Ratio(p.Del.P99, base.Del.P99), p.RedisCmds, p.RedisTop)
	}
}

// lost is the victim alarms accepted but not delivered.
func (p phaseResult) lost() int64 { return max(0, p.Published-int64(p.Received)) }

// floodResult builds the RESULT line: the run's parameters, then each
// phase's figures under its key.
func floodResult(co *common, o *floodOpts, phases []phaseResult) *result {
	r := co.newResult("inbox-flood")
	r.add("rate", o.rate)
	r.add("size", o.size)
	r.add("fill", o.fill)
	r.add("fill_size", o.fillSize)
	r.add("ws", o.ws)
	r.add("reads", o.reads)
	r.add("http_state", o.httpState)
	r.add("phase_s", o.phase.Seconds())
	if co.env != "" {
		r.add("env", co.env)
	}
	for _, p := range phases {
		k := p.Key + "_"
		r.add(k+"load1", p.Load1)
		for _, q := range []struct {
			name string
			s    latencySummary
		}{{"pub", p.Pub}, {"del", p.Del}} {
			r.add(k+q.name+"_p50_ms", ms(q.s.P50))
			r.add(k+q.name+"_p90_ms", ms(q.s.P90))
			r.add(k+q.name+"_p99_ms", ms(q.s.P99))
			r.add(k+q.name+"_max_ms", ms(q.s.Max))
		}
		if p.Key != phases[0].Key {
			r.add(k+"pub_p99_x", p99Ratio(p.Pub.P99, phases[0].Pub.P99))
			r.add(k+"del_p99_x", p99Ratio(p.Del.P99, phases[0].Del.P99))
		}
		r.add(k+"published", p.Published)
		r.add(k+"pub_errors", p.PubErrors)
		r.add(k+"pub_rate", p.PubRate)
		r.add(k+"lost", p.lost())
		r.add(k+"sent", p.Flood.Sent)
		r.add(k+"accepted", p.Flood.Accepted)
		r.add(k+"limited", p.Flood.Limited)
		r.add(k+"failed", p.Flood.Failed)
		r.add(k+"gw_limited", p.GwLimited)
		r.add(k+"redis_cmds", p.RedisCmds)
		r.add(k+"redis_top", p.RedisTop)
		r.add(k+"redis_cpu_s", p.RedisCPU.Seconds())
		r.add(k+"gw_cpu_s", p.GatewayCPU.Seconds())
		r.add(k+"lg_cpu_s", p.LoadgenCPU.Seconds())
	}
	return r
}

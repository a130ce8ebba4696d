package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
)

const usage = `usage: loadgen <workload> [flags]

workloads (each prints a table and a final "RESULT workload=... k=v" line):
  fanout     1 node, N connections on one channel, publisher at R alarms/s (-ramp raises R)
  latency    2 nodes, N connections on personal channels, R alarms/s through node 1
  memory     N idle connections: RSS and Go heap per connection
  storm      N clients on node A; SIGKILL A; M alarms each through B; all resume on B
  publish    HTTP publish throughput: single requests and batches
  inbox-flood  one user floods its inbox (state changes, reads); another tenant's latencies
  summarize  read RESULT lines (files or stdin) and print medians with ranges

By default loadgen starts its own redis-server and builds ./cmd/gateway
(run it from the module; -gateway names a binary instead); -targets and
-redis point it at running ones. -target centrifugo runs the same workload
against the peer (Centrifugo v6, see docs/bench/peer.sh), -target both
runs the two alternately, -runs times each.
Run "loadgen <workload> -h" for its flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
		}
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return flag.ErrHelp
	}
	name, args := args[0], args[1:]
	if name == "summarize" {
		return cmdSummarize(args, os.Stdin, stdout)
	}
	wl, ok := workloads[name]
	if !ok {
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown workload %q", name)
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var co common
	co.register(fs)
	exec := wl(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	kinds, err := parseTargets(co.target)
	if err != nil {
		return err
	}
	raiseNoFile(stderr)
	if err := co.prepare(ctx, kinds); err != nil {
		return err
	}
	defer co.cleanup()
	return runAll(ctx, name, &co, kinds, exec, stdout, stderr)
}

// runAll runs the workload co.runs times for every target, alternating
// (A B A B …); a failed run is reported and the next one runs.
func runAll(ctx context.Context, name string, co *common, kinds []target, exec func(context.Context, *common, io.Writer) error, stdout, stderr io.Writer) error {
	var first error
	for n := 1; n <= co.runs && ctx.Err() == nil; n++ {
		for _, k := range kinds {
			if len(kinds) > 1 || co.runs > 1 {
				waitQuiet(ctx, co.maxLoad, co.loadWait, stderr)
				fmt.Fprintf(stdout, "== %s run %d target %s %s load %.2f\n", name, n, k.Name(), time.Now().UTC().Format(time.RFC3339), loadAvg())
			}
			co.kind, co.load1 = k, loadAvg()
			run := *co
			if _, ok := k.(alarmgate); !ok {
				run.plotDir = "" // the plots show the gateway
			}
			if err := exec(ctx, &run, stdout); err != nil {
				fmt.Fprintf(stderr, "loadgen: %s run %d (%s): %v\n", name, n, k.Name(), err)
				first = cmp.Or(first, err)
			}
		}
	}
	return first
}

// waitQuiet waits up to limit for the host's 1-minute load average to
// drop below maxLoad (0: do not wait).
func waitQuiet(ctx context.Context, maxLoad float64, limit time.Duration, stderr io.Writer) {
	if maxLoad <= 0 {
		return
	}
	for start := time.Now(); ctx.Err() == nil; time.Sleep(5 * time.Second) {
		if l := loadAvg(); l < maxLoad {
			return
		} else if time.Since(start) >= limit {
			fmt.Fprintf(stderr, "loadgen: load still %.2f after %v; running anyway\n", l, limit)
			return
		}
	}
}

// prepare builds the gateway and finds the peer binary when the targets
// need them.
func (c *common) prepare(ctx context.Context, kinds []target) error {
	for _, k := range kinds {
		switch k.(type) {
		case alarmgate:
			if c.gateway != "" || c.targets != "" {
				continue
			}
			dir, err := os.MkdirTemp("", "loadgen-bin-")
			if err != nil {
				return err
			}
			c.binDir = dir
			var rev string
			if c.gateway, rev, err = buildGateway(ctx, dir); err != nil {
				return err
			}
			c.rev = cmp.Or(c.rev, rev)
		case centrifugo:
			if c.targets != "" {
				return errors.New("-targets cannot be used with the centrifugo target")
			}
			bin, err := peerBin(c.peer)
			if err != nil {
				return err
			}
			c.peer, c.peerRev = bin, peerVersion(ctx, bin)
		}
	}
	return nil
}

// cleanup removes what prepare built.
func (c *common) cleanup() {
	if c.binDir != "" {
		_ = os.RemoveAll(c.binDir)
	}
}

// workload registers its flags and returns the function that runs it.
type workload func(fs *flag.FlagSet) func(ctx context.Context, co *common, out io.Writer) error

var workloads = map[string]workload{
	"fanout":  fanoutFlags,
	"latency": latencyFlags,
	"memory":  memoryFlags,
	"storm":   stormFlags,
	"publish": publishFlags,
	// the gateway only
	"inbox-flood": inboxFloodFlags,
}

// common holds the flags every workload has.
type common struct {
	gateway string
	targets string
	redis   string
	pids    string
	apiKey  string
	secret  string
	plotDir string
	srcIPs  int
	verbose bool
	env     string
	rev     string
	load1   float64 // host load average when the run started

	target      string // -target
	runs        int
	maxLoad     float64
	loadWait    time.Duration
	peer        string // Centrifugo binary
	peerRev     string // its module version
	peerHistory int
	pprofBase   int
	binDir      string // where prepare built the gateway
	kind        target // the target of the current run
}

// newResult starts the RESULT line of workload, noting the host's load
// before the run (the machine may be shared).
func (c *common) newResult(workload string) *result {
	r := newResult(workload)
	r.add("target", c.kind.Name())
	r.add("load1_before", c.load1)
	switch c.kind.(type) {
	case alarmgate:
		if c.rev != "" {
			r.add("gateway_rev", c.rev)
		}
	case centrifugo:
		r.add("peer_rev", c.peerRev)
		r.add("peer_history", c.peerHistory)
	}
	return r
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.gateway, "gateway", "", "gateway binary to start (default: go build ./cmd/gateway)")
	fs.StringVar(&c.targets, "targets", "", "comma-separated base URLs of running gateways (http://host:port); start nothing")
	fs.StringVar(&c.redis, "redis", "", "redis:// URL of the targets' Redis (INFO commandstats)")
	fs.StringVar(&c.pids, "pids", "", "comma-separated pids of -targets, for CPU/RSS and for storm's kill")
	fs.StringVar(&c.apiKey, "api-key", "loadgen-key-0123456789", "publish API key")
	fs.StringVar(&c.secret, "jwt-secret", "loadgen-secret-0123456789abcdef", "HS256 secret for client tokens")
	fs.StringVar(&c.plotDir, "plot", "", "write PNG plots into this directory")
	fs.IntVar(&c.srcIPs, "srcips", 0, "spread connections over this many source addresses 127.0.0.2.. (0: auto)")
	fs.BoolVar(&c.verbose, "v", false, "gateway and redis logs to stderr")
	fs.StringVar(&c.env, "env", "", "comma-separated KEY=VALUE settings added to every started gateway's environment")
	fs.StringVar(&c.rev, "gateway-rev", "", "label for the gateway build in the RESULT line (default: git revision when loadgen builds it)")
	fs.StringVar(&c.target, "target", "alarmgate", "what to measure: alarmgate, centrifugo (the peer) or both (alternately)")
	fs.IntVar(&c.runs, "runs", 1, "runs per target; with -target both they alternate: A B A B …")
	fs.Float64Var(&c.maxLoad, "max-load", 0, "with several runs, wait before each for the 1-minute load average to drop below this (0: do not wait)")
	fs.DurationVar(&c.loadWait, "load-wait", 2*time.Minute, "longest wait for -max-load")
	fs.StringVar(&c.peer, "centrifugo", "", "Centrifugo binary (default: $CENTRIFUGO_BIN, else ~/.cache/alarmgate-peer/bin/centrifugo from docs/bench/peer.sh)")
	fs.IntVar(&c.pprofBase, "pprof-base", 0, "serve pprof on started gateway i at 127.0.0.1:<pprof-base + i> (0: off)")
	fs.IntVar(&c.peerHistory, "peer-history", 1000, "the peer's history_size per channel, with force_recovery (0: no history, no recovery)")
}

// startCluster starts (or, with -targets, attaches to) nodes gateways
// configured from the common flags plus env.
func (c *common) startCluster(ctx context.Context, nodes int, env ...string) (*cluster, error) {
	cfg, err := c.clusterConfig(nodes, env...)
	if err != nil {
		return nil, err
	}
	return startCluster(ctx, cfg)
}

// clusterConfig builds the cluster settings for nodes gateways.
func (c *common) clusterConfig(nodes int, env ...string) (clusterConfig, error) {
	if c.env != "" {
		env = append(env, strings.Split(c.env, ",")...)
	}
	cfg := clusterConfig{Gateway: c.gateway, Redis: c.redis, Nodes: nodes, APIKey: c.apiKey,
		Secret: c.secret, Env: env, Verbose: c.verbose, Target: c.kind, Peer: c.peer, PeerHistory: c.peerHistory,
		PprofBase: c.pprofBase}
	if c.targets != "" {
		cfg.Targets = strings.Split(c.targets, ",")
		if len(cfg.Targets) < nodes {
			return cfg, fmt.Errorf("this workload needs %d targets", nodes)
		}
	}
	for p := range strings.SplitSeq(c.pids, ",") {
		if p == "" {
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(p))
		if err != nil {
			return cfg, fmt.Errorf("-pids: %w", err)
		}
		cfg.PIDs = append(cfg.PIDs, n)
	}
	return cfg, nil
}

// sources returns the number of source addresses to use for n connections.
func (c *common) sources(n int) int {
	if c.srcIPs > 0 {
		return c.srcIPs
	}
	return 1 + n/4000
}

// raiseNoFile lifts the soft RLIMIT_NOFILE to the hard limit. Calling
// Setrlimit explicitly also makes the gateway and redis children inherit
// the raised limit (Go restores the original one for children otherwise).
func raiseNoFile(stderr io.Writer) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		fmt.Fprintln(stderr, "loadgen: raise RLIMIT_NOFILE:", err)
	}
}

// tokens mints n client tokens: subject prefix+i with the given channels.
func tokens(secret, prefix string, n int, channels []string) ([]string, error) {
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(secret)})
	if err != nil {
		return nil, err
	}
	out := make([]string, n)
	for i := range out {
		if out[i], err = v.Issue(prefix+strconv.Itoa(i), channels, 2*time.Hour); err != nil {
			return nil, err
		}
	}
	return out, nil
}

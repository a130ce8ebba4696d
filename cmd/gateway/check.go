package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// errCheckFailed is check-config's error once it has printed the problems.
var errCheckFailed = errors.New("check-config: the configuration has problems (listed above)")

// cmdCheckConfig validates the environment as serve would, and with a
// Redis URL checks Redis too, starting nothing. It prints every problem
// and warning, or OK; it fails when serve would refuse to start (or Redis
// cannot be reached).
func cmdCheckConfig(ctx context.Context, environ map[string]string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	cfg, err := loadConfigFrom(environ)
	lines := problemLines(err)
	warnings := unknownVariables(environ)
	if err == nil && !cfg.embedded() {
		l, w := checkRedisConfig(ctx, cfg)
		lines, warnings = append(lines, l...), append(warnings, w...)
	}
	for _, l := range lines {
		fmt.Fprintln(stdout, l)
	}
	for _, w := range warnings {
		fmt.Fprintln(stdout, "warning: "+w)
	}
	if len(lines) > 0 {
		return errCheckFailed
	}
	fmt.Fprintln(stdout, "OK")
	return nil
}

// checkRedisConfig runs the start checks against the configured Redis.
func checkRedisConfig(ctx context.Context, cfg config) (problems, warnings []string) {
	rdb, err := cfg.redisClient()
	if err != nil {
		return []string{err.Error()}, nil
	}
	defer func() { _ = rdb.Close() }()
	sc := nodeConfig(cfg).Stream
	var stores []*stream.Store
	for k := range max(sc.Partitions, 1) {
		sc.Partition = k
		s, err := stream.New(sc, rdb, nil)
		if err != nil {
			return []string{err.Error()}, nil
		}
		stores = append(stores, s)
	}
	r := checkPartitions(ctx, stores, cfg.MinReplicas)
	if r.unreachable != nil {
		problems = append(problems, fmt.Sprintf("GATEWAY_REDIS_URL: Redis did not answer: %v", r.unreachable))
	}
	for _, w := range r.warnings {
		warnings = append(warnings, w.msg)
	}
	return append(problems, problemLines(&configError{problems: r.problems})...), warnings
}

// problemLines returns the lines of a configuration error.
func problemLines(err error) []string {
	var ce *configError
	if errors.As(err, &ce) {
		lines := make([]string, len(ce.problems))
		for i, p := range ce.problems {
			lines[i] = p.Error()
		}
		return lines
	}
	if err != nil {
		return []string{err.Error()}
	}
	return nil
}

// cmdVersion prints the module's version and VCS information as the Go
// toolchain recorded them in the binary, and the Go version.
func cmdVersion(stdout io.Writer) error {
	fmt.Fprint(stdout, versionText(debug.ReadBuildInfo()))
	return nil
}

func versionText(bi *debug.BuildInfo, ok bool) string {
	if !ok {
		return fmt.Sprintf("gateway (no build information)\ngo %s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	out := fmt.Sprintf("gateway %s %s\n", bi.Main.Path, bi.Main.Version)
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		out += fmt.Sprintf("commit %s %s\n", rev, settings["vcs.time"])
	}
	return out + fmt.Sprintf("go %s %s/%s\n", bi.GoVersion, runtime.GOOS, runtime.GOARCH)
}

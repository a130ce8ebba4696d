package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/caarlos0/env/v11"
)

const usage = `usage: gateway [command] [flags]

commands:
  serve     run a gateway node (the default); configured by GATEWAY_* variables
  publish   publish one alarm through a node's HTTP API
  tail      connect as a client and print alarms, resuming across reconnects
  token     mint a client token signed with GATEWAY_JWT_SECRET
  healthcheck  GET the node's /healthz; exit 1 unless 200 (for container health checks)
  check-config  validate the GATEWAY_* variables (and Redis, with a URL) as serve would; print OK or every problem
  partition  print each channel's partition and the ingest stream to XADD its alarms to
  version   print the build's version, commit and Go version

Run "gateway <command> -h" for a command's flags.
`

// run dispatches to a subcommand; with none it serves.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		return serve(ctx, env.ToMap(os.Environ()), stdout, stderr)
	case "check-config":
		return cmdCheckConfig(ctx, env.ToMap(os.Environ()), args, stdout, stderr)
	case "version", "-version", "--version":
		return cmdVersion(stdout)
	case "publish":
		return cmdPublish(ctx, args, stdout, stderr)
	case "tail":
		return cmdTail(ctx, args, stdout, stderr)
	case "token":
		return cmdToken(args, stdout, stderr)
	case "healthcheck":
		return cmdHealthcheck(ctx, args, stdout, stderr)
	case "partition":
		return cmdPartition(args, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// parseFlags parses a subcommand's flags; -h prints them and is not an error.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	err = fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		return true, nil
	}
	return false, err
}

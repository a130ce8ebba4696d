// Command gateway runs an alarm gateway node, or, with a subcommand, helps
// to try one: publish an alarm, tail a channel, mint a client token, check
// a configuration.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	interrupts(cancel, func(code int) { os.Exit(code) })
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		printError(os.Stderr, err)
		cancel()
		os.Exit(1)
	}
}

// interrupts ends the context (cancel) on the first SIGINT or SIGTERM, so
// the node drains and stops, and exits at once on the second: Ctrl-C
// twice never waits for a drain.
func interrupts(cancel context.CancelFunc, exit func(code int)) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() { // lives as long as the process
		<-sigs
		cancel()
		s := <-sigs
		fmt.Fprintf(os.Stderr, "gateway: second %v: exiting without finishing the shutdown\n", s)
		code := 1
		if n, ok := s.(syscall.Signal); ok {
			code = 128 + int(n)
		}
		exit(code)
	}()
}

// printError prints err, each of its lines (one per configuration
// problem) prefixed with "gateway: ".
func printError(w io.Writer, err error) {
	for line := range strings.Lines(err.Error()) {
		fmt.Fprintln(w, "gateway: "+strings.TrimSuffix(line, "\n"))
	}
}

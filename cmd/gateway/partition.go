package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// cmdPartition prints, for each channel argument, its partition in a
// deployment of -partitions partitions ("shared" for a channel appended
// to every partition) and the ingest stream a producer XADDs its alarms
// to: the channel's partition's, partition 0's for a shared channel. One
// line per channel: channel, partition, stream, separated by tabs.
// Without a channel it prints every partition and its ingest stream.
func cmdPartition(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("partition", flag.ContinueOnError)
	fs.SetOutput(stderr)
	prefix := fs.String("prefix", stream.DefaultPrefix, "the deployment's GATEWAY_REDIS_PREFIX")
	partitions := fs.Int("partitions", 0, "the deployment's GATEWAY_PARTITIONS (required)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gateway partition [-prefix alarms] -partitions P [<channel>...]")
		fmt.Fprintln(stderr, "prints each channel's partition and the ingest stream to XADD it to; without a channel, every partition's stream")
		fs.PrintDefaults()
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *partitions == 0 {
		return errors.New("partition: -partitions is required (the deployment's GATEWAY_PARTITIONS)")
	}
	if fs.NArg() == 0 {
		return printStreams(*prefix, *partitions, stdout)
	}
	for _, ch := range fs.Args() {
		if !alarm.ValidChannel(ch) {
			return fmt.Errorf("partition: %q is not a channel (^[A-Za-z0-9_.:@-]{1,128}$)", ch)
		}
		key, err := stream.IngestKeyOf(*prefix, *partitions, ch)
		if err != nil {
			return fmt.Errorf("partition: %w", err)
		}
		part := "shared"
		if k, shared := stream.PartitionOf(ch, *partitions); !shared {
			part = strconv.Itoa(k)
		}
		fmt.Fprintf(stdout, "%s\t%s\t%s\n", ch, part, key)
	}
	return nil
}

// printStreams prints every partition and its ingest stream, one line
// each: partition, stream, separated by a tab.
func printStreams(prefix string, partitions int, stdout io.Writer) error {
	streams, err := stream.IngestStreams(prefix, partitions)
	if err != nil {
		return fmt.Errorf("partition: %w", err)
	}
	for k, key := range streams {
		fmt.Fprintf(stdout, "%d\t%s\n", k, key)
	}
	return nil
}

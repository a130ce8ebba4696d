package main

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// TestPartitionCommand: one line per channel, its partition ("shared" for
// a shared channel) and the ingest stream to XADD to; without a channel
// every partition's stream; bad input is an error.
func TestPartitionCommand(t *testing.T) {
	key := func(prefix string, partitions int, channel string) string {
		k, err := stream.IngestKeyOf(prefix, partitions, channel)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	k42, _ := stream.PartitionOf("user:42", 4)
	two, err := stream.IngestStreams("alarms", 2)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string // "" = an error
	}{
		{"one partition", []string{"-partitions", "1", "user:42", "broadcast"},
			"user:42\t0\t{alarms}:ingest\nbroadcast\tshared\t{alarms}:ingest\n"},
		{"four", []string{"-prefix", "acme", "-partitions", "4", "user:42", "team:ops"},
			"user:42\t" + strconv.Itoa(k42) + "\t" + key("acme", 4, "user:42") + "\n" +
				"team:ops\tshared\t" + key("acme", 4, "broadcast") + "\n"},
		{"no partitions", []string{"user:42"}, ""},
		{"every partition", []string{"-partitions", "2"},
			"0\t" + two[0] + "\n1\t" + two[1] + "\n"},
		{"bad channel", []string{"-partitions", "2", "user 42"}, ""},
		{"bad prefix", []string{"-prefix", "a/b", "-partitions", "2", "user:42"}, ""},
		{"too many", []string{"-partitions", "5000", "user:42"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			err := run(context.Background(), append([]string{"partition"}, tc.args...), &out, &errb)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("accepted: %q", out.String())
				}
				return
			}
			if err != nil || out.String() != tc.want {
				t.Fatalf("got %q, %v; want %q", out.String(), err, tc.want)
			}
		})
	}
	if !strings.HasPrefix(key("acme", 4, "broadcast"), "{acme/4/0/") {
		t.Errorf("a shared channel's stream %q is not partition 0's", key("acme", 4, "broadcast"))
	}
}

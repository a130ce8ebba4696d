package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/caarlos0/env/v11"
)

// otherVariables are GATEWAY_* variables read by something other than
// serve: the publish and tail commands, and the tests.
var otherVariables = []string{"GATEWAY_API_KEY", "GATEWAY_TOKEN", "GATEWAY_TEST_REDIS"}

// knownVariables returns every variable the gateway reads.
func knownVariables() []string {
	params, err := env.GetFieldParams(&config{})
	if err != nil {
		panic(err) // the struct's tags are fixed: TestConfigDefaults parses them
	}
	known := slices.Clone(otherVariables)
	for _, p := range params {
		known = append(known, p.Key)
	}
	return known
}

// unknownVariables names each GATEWAY_* variable of environ the gateway
// does not read (a misspelling is otherwise silently ignored), with the
// closest known name when one is close, sorted.
func unknownVariables(environ map[string]string) []string {
	known := knownVariables()
	var out []string
	for name := range environ {
		if !strings.HasPrefix(name, "GATEWAY_") || slices.Contains(known, name) {
			continue
		}
		msg := name + " is not a variable the gateway reads; it is ignored"
		if guess := closest(name, known); guess != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", guess)
		}
		out = append(out, msg)
	}
	slices.Sort(out)
	return out
}

// closest returns the name of known nearest to name (edit distance, case
// ignored) when it is near enough to be a likely misspelling, else "".
func closest(name string, known []string) string {
	best, bestD := "", 0
	for _, k := range known {
		d := editDistance(strings.ToUpper(name), k)
		if best == "" || d < bestD {
			best, bestD = k, d
		}
	}
	word := len(name) - len("GATEWAY_")
	if best == "" || bestD > max(2, word/4) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// withNotes appends notes (the unknown variables) to a configuration
// error, after its problems.
func withNotes(err error, notes []string) error {
	ce, ok := err.(*configError)
	if !ok || len(notes) == 0 {
		return err
	}
	out := &configError{problems: ce.problems}
	for _, n := range notes {
		out.notes = append(out.notes, "warning: "+n)
	}
	return out
}

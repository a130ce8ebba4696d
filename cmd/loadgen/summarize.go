package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// groupKeys are the RESULT keys that name a run's parameters: runs are
// summarized together when these match.
var groupKeys = []string{"workload", "target", "gateway_rev", "peer_rev", "peer_history", "conns", "nodes", "rate", "ramp", "per", "size", "after_gc"}

// summary is the aggregate of the RESULT lines of one group.
type summary struct {
	Group  string            // "workload=fanout conns=5000 ..."
	Params map[string]string // the group keys' values
	Runs   int
	Keys   []string             // result keys in first-seen order
	Nums   map[string][]float64 // numeric values per key
	Texts  map[string][]string  // other values per key
}

// parseResultLine returns the key=value pairs of a "RESULT ..." line in
// order, or ok=false for any other line.
func parseResultLine(line string) (keys, vals []string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), "RESULT ")
	if !ok {
		return nil, nil, false
	}
	for f := range strings.FieldsSeq(rest) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			continue
		}
		keys, vals = append(keys, k), append(vals, v)
	}
	return keys, vals, len(keys) > 0
}

// summarize groups RESULT lines by their parameters.
func summarize(r io.Reader) ([]*summary, error) {
	var out []*summary
	byGroup := map[string]*summary{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		keys, vals, ok := parseResultLine(sc.Text())
		if !ok {
			continue
		}
		g := groupOf(keys, vals)
		s := byGroup[g]
		if s == nil {
			s = &summary{Group: g, Params: paramsOf(keys, vals), Nums: map[string][]float64{}, Texts: map[string][]string{}}
			byGroup[g] = s
			out = append(out, s)
		}
		s.Runs++
		for i, k := range keys {
			if isGroupKey(k) {
				continue
			}
			if _, seen := s.Nums[k]; !seen && s.Texts[k] == nil {
				s.Keys = append(s.Keys, k)
			}
			if f, err := strconv.ParseFloat(vals[i], 64); err == nil && s.Texts[k] == nil {
				s.Nums[k] = append(s.Nums[k], f)
			} else {
				s.Texts[k] = append(s.Texts[k], vals[i])
			}
		}
	}
	return out, sc.Err()
}

func isGroupKey(k string) bool {
	for _, g := range groupKeys {
		if k == g {
			return true
		}
	}
	return false
}

// paramsOf returns the group keys' values of one RESULT line.
func paramsOf(keys, vals []string) map[string]string {
	m := map[string]string{}
	for i, k := range keys {
		if isGroupKey(k) {
			m[k] = vals[i]
		}
	}
	return m
}

func groupOf(keys, vals []string) string {
	var parts []string
	for _, g := range groupKeys {
		for i, k := range keys {
			if k == g {
				parts = append(parts, k+"="+vals[i])
				break
			}
		}
	}
	return strings.Join(parts, " ")
}

// print writes one line per key: median [min – max] of numbers, or the
// distinct texts.
func (s *summary) print(w io.Writer) {
	fmt.Fprintf(w, "%s (%d runs)\n", s.Group, s.Runs)
	for _, k := range s.Keys {
		if xs := s.Nums[k]; len(s.Texts[k]) == 0 && len(xs) > 0 {
			med, lo, hi := median(xs)
			fmt.Fprintf(w, "  %-34s %12s  [%s – %s]\n", k, formatFloat(med), formatFloat(lo), formatFloat(hi))
			continue
		}
		fmt.Fprintf(w, "  %-34s %s\n", k, strings.Join(distinct(s.Texts[k]), " | "))
	}
}

func distinct(ss []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range ss {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// cmdSummarize reads RESULT lines from the files in args (or stdin) and
// prints a summary per group.
func cmdSummarize(args []string, stdin io.Reader, out io.Writer) error {
	var readers []io.Reader
	for _, name := range args {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		readers = append(readers, f)
	}
	if len(readers) == 0 {
		readers = append(readers, stdin)
	}
	sums, err := summarize(io.MultiReader(readers...))
	if err != nil {
		return err
	}
	for _, s := range sums {
		s.print(out)
	}
	compare(sums, out)
	return nil
}

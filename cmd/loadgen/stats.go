package main

import (
	"bufio"
	"sort"
	"strconv"
	"strings"
)

// cmdStat is one line of Redis INFO commandstats.
type cmdStat struct {
	Calls int64
	Usec  int64
}

// parseCommandStats parses the output of INFO commandstats: lines like
// "cmdstat_xadd:calls=3,usec=40,usec_per_call=13.33,rejected_calls=0,failed_calls=0".
// Keys are command names ("xadd", "client|list"). Lines it does not know
// are ignored.
func parseCommandStats(info string) map[string]cmdStat {
	out := make(map[string]cmdStat)
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		name, ok = strings.CutPrefix(name, "cmdstat_")
		if !ok {
			continue
		}
		var st cmdStat
		for kv := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				continue
			}
			switch k {
			case "calls":
				st.Calls = n
			case "usec":
				st.Usec = n
			}
		}
		out[name] = st
	}
	return out
}

// cmdDelta is the change of one command's call count between two
// snapshots.
type cmdDelta struct {
	Name  string
	Calls int64
}

// diffCommandStats returns the commands whose call count grew from before
// to after, most calls first, leaving out the commands loadgen itself
// sends to take the snapshots (info), and their total.
func diffCommandStats(before, after map[string]cmdStat) ([]cmdDelta, int64) {
	var out []cmdDelta
	var total int64
	for name, a := range after {
		if name == "info" {
			continue
		}
		d := a.Calls - before[name].Calls
		if d <= 0 {
			continue
		}
		out = append(out, cmdDelta{Name: name, Calls: d})
		total += d
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Calls != out[j].Calls {
			return out[i].Calls > out[j].Calls
		}
		return out[i].Name < out[j].Name
	})
	return out, total
}

// formatDeltas renders deltas as "xrange=3,publish=2".
func formatDeltas(ds []cmdDelta) string {
	if len(ds) == 0 {
		return "none"
	}
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Name + "=" + strconv.FormatInt(d.Calls, 10)
	}
	return strings.Join(parts, ",")
}

// promValue returns the sum of every sample of metric name in Prometheus
// text exposition format (all label sets), and whether any was found.
func promValue(text, name string) (float64, bool) {
	var sum float64
	found := false
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '{') {
			continue
		}
		if rest[0] == '{' {
			end := strings.LastIndexByte(rest, '}')
			if end < 0 {
				continue
			}
			rest = rest[end+1:]
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		sum += v
		found = true
	}
	return sum, found
}

// median returns the median of xs (mean of the middle two for an even
// count) and their minimum and maximum. xs is not modified.
func median(xs []float64) (med, lo, hi float64) {
	if len(xs) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	n := len(s)
	med = s[n/2]
	if n%2 == 0 {
		med = (s[n/2-1] + s[n/2]) / 2
	}
	return med, s[0], s[n-1]
}

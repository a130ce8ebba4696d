package main

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// goal is one metric compared between the gateway and the peer: the
// ratio ours/peer of the medians, and its target (issue 23: a lead on
// the paths every deployment runs all day).
type goal struct {
	workload string
	key      string
	lower    bool    // lower is better
	ratio    float64 // target ratio ours/peer (≤ when lower, ≥ otherwise); 0: shown only
	absMax   float64 // ours must also stay ≤ this; 0: no such bound
	// when, if set, names a group parameter the goal needs: "ramp=false".
	when string
	// complete requires every client complete in both runs (storm).
	complete bool
}

// goals are the side-by-side targets, in report order.
var goals = []goal{
	{workload: "latency", key: "p50_ms", lower: true, ratio: 1},
	{workload: "latency", key: "p99_ms", lower: true, ratio: 1},
	{workload: "latency", key: "p999_ms", lower: true},
	{workload: "latency", key: "gateway_cpu_s", lower: true},
	{workload: "publish", key: "single_per_s", ratio: 1.3},
	{workload: "publish", key: "single_cpu_us_per_alarm", lower: true, absMax: 40},
	{workload: "publish", key: "batch_per_s", ratio: 2},
	{workload: "publish", key: "batch_cpu_us_per_alarm", lower: true},
	{workload: "fanout", key: "deliveries_per_s", when: "ramp=true"},
	{workload: "fanout", key: "best_rate", when: "ramp=true"},
	{workload: "fanout", key: "cpu_us_per_delivery", lower: true, ratio: 0.7, when: "ramp=false"},
	{workload: "fanout", key: "cpu_us_per_delivery", lower: true, when: "ramp=true"},
	{workload: "fanout", key: "p99_ms", lower: true, ratio: 1, when: "ramp=false"},
	{workload: "memory", key: "rss_kib_per_conn", lower: true, absMax: 12},
	{workload: "storm", key: "all_complete_s", lower: true, ratio: 0.5, complete: true},
	{workload: "storm", key: "cmds_per_client", lower: true},
}

// pairKeys are the group keys that may differ between the two sides of
// a comparison.
var pairKeys = map[string]bool{"target": true, "gateway_rev": true, "peer_rev": true, "peer_history": true}

// compare prints, for every group of gateway runs with a matching group
// of peer runs (same parameters), each goal's medians, ratio and verdict.
func compare(sums []*summary, out io.Writer) {
	for _, ours := range sums {
		if t := ours.Params["target"]; t != "" && t != "alarmgate" {
			continue
		}
		peer := matchPeer(ours, sums)
		if peer == nil {
			continue
		}
		fmt.Fprintf(out, "\ncompare %s: alarmgate %d runs, centrifugo %d runs (%s)\n", sharedParams(ours), ours.Runs, peer.Runs,
			peer.Params["peer_rev"])
		t := newTable(out, "metric                     ", "alarmgate               ", "centrifugo              ", "ratio", "target", "met")
		for _, g := range goals {
			if g.workload != ours.Params["workload"] || !g.applies(ours) {
				continue
			}
			row, ok := g.row(ours, peer)
			if ok {
				t.row(row...)
			}
		}
	}
}

// matchPeer finds the peer group with ours's parameters.
func matchPeer(ours *summary, sums []*summary) *summary {
	for _, s := range sums {
		if s.Params["target"] != "centrifugo" {
			continue
		}
		same := true
		for _, k := range groupKeys {
			if !pairKeys[k] && s.Params[k] != ours.Params[k] {
				same = false
				break
			}
		}
		if same {
			return s
		}
	}
	return nil
}

// sharedParams renders the parameters both sides share.
func sharedParams(s *summary) string {
	var parts []string
	for _, k := range groupKeys {
		if v, ok := s.Params[k]; ok && !pairKeys[k] {
			parts = append(parts, k+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func (g goal) applies(s *summary) bool {
	if g.when == "" {
		return true
	}
	k, v, _ := strings.Cut(g.when, "=")
	return s.Params[k] == v
}

// row returns the table row of g, or ok=false when a side lacks the key.
func (g goal) row(ours, peer *summary) (cells []any, ok bool) {
	a, b := ours.Nums[g.key], peer.Nums[g.key]
	if len(a) == 0 || len(b) == 0 {
		return nil, false
	}
	ma, loA, hiA := median(a)
	mb, loB, hiB := median(b)
	ratio := "-"
	if mb != 0 {
		ratio = formatFloat(ma / mb)
	}
	return []any{g.key, medRange(ma, loA, hiA), medRange(mb, loB, hiB), ratio, g.targetText(), g.verdict(ours, peer, ma, mb)}, true
}

func medRange(m, lo, hi float64) string {
	return formatFloat(m) + " [" + formatFloat(lo) + "–" + formatFloat(hi) + "]"
}

func (g goal) targetText() string {
	var parts []string
	if g.ratio > 0 {
		op := "≥"
		if g.lower {
			op = "≤"
		}
		parts = append(parts, op+strconv.FormatFloat(g.ratio, 'g', -1, 64)+"×")
	}
	if g.absMax > 0 {
		parts = append(parts, "≤"+strconv.FormatFloat(g.absMax, 'g', -1, 64))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// verdict says whether the medians meet g: "yes", "no", "-" (no target)
// or why it cannot be judged.
func (g goal) verdict(ours, peer *summary, ma, mb float64) string {
	if g.ratio == 0 && g.absMax == 0 {
		return "-"
	}
	if g.complete && (!allComplete(ours) || !allComplete(peer)) {
		return "no:incomplete"
	}
	met := true
	if g.ratio > 0 {
		if mb == 0 {
			return "no:peer=0"
		}
		r := ma / mb
		met = (g.lower && r <= g.ratio) || (!g.lower && r >= g.ratio)
	}
	if g.absMax > 0 && ma > g.absMax {
		met = false
	}
	if met {
		return "yes"
	}
	return "no"
}

// allComplete reports whether every run of a storm group had every client
// complete.
func allComplete(s *summary) bool {
	conns := s.Params["conns"]
	for _, c := range s.Nums["complete"] {
		if formatInt(c) != conns {
			return false
		}
	}
	return len(s.Nums["complete"]) > 0
}

func formatInt(x float64) string { return strconv.FormatFloat(x, 'f', 0, 64) }

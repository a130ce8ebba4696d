package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{0, "0"}, {1, "1.000"}, {0.012345, "0.01235"}, {123456.7, "123457"}, {12.3456, "12.35"}, {-2.5, "-2.500"},
	}
	for _, tt := range tests {
		if got := formatFloat(tt.in); got != tt.want {
			t.Errorf("formatFloat(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestResultLine(t *testing.T) {
	r := newResult("fanout")
	r.add("conns", 5000)
	r.add("p99_ms", 2.5)
	r.add("took", 1500*time.Millisecond)
	r.add("stop", "no: p99")
	want := "RESULT workload=fanout conns=5000 p99_ms=2.500 took=1.500 stop=no:_p99"
	if got := r.String(); got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	keys, vals, ok := parseResultLine(r.String())
	if !ok || len(keys) != 5 || keys[4] != "stop" || vals[1] != "5000" {
		t.Errorf("parseResultLine: %v %v %v", keys, vals, ok)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	tb := newTable(&b, "step", "p99")
	tb.row(1, 250*time.Microsecond)
	tb.row(2, 3*time.Millisecond)
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", b.String())
	}
	if !strings.HasSuffix(lines[1], "250.0µs") || !strings.HasSuffix(lines[2], "3.000ms") {
		t.Errorf("table rows:\n%s", b.String())
	}
}

func TestJudgeAndBest(t *testing.T) {
	o := &fanoutOpts{minDelivery: 0.99, maxP99: 250 * time.Millisecond}
	good := stepResult{Rate: 10, PubRate: 10, Expected: 100, Received: 100, PerSec: 1000, Lat: latencySummary{P99: time.Millisecond}}
	tests := []struct {
		name string
		edit func(*stepResult)
		why  string
	}{
		{"pass", func(*stepResult) {}, ""},
		{"errors", func(r *stepResult) { r.PubErrors = 1 }, "errors"},
		{"slow publisher", func(r *stepResult) { r.PubRate = 9 }, "pub-rate"},
		{"lost", func(r *stepResult) { r.Received = 98 }, "delivery"},
		{"slow", func(r *stepResult) { r.Lat.P99 = time.Second }, "p99"},
	}
	for _, tt := range tests {
		r := good
		tt.edit(&r)
		pass, why := judge(r, o)
		if pass != (tt.why == "") || why != tt.why {
			t.Errorf("%s: judge = %v %q", tt.name, pass, why)
		}
	}
	if got := passText(stepResult{Why: "p99", Retried: true}); got != "no:p99,retry" {
		t.Errorf("passText(retried) = %q", got)
	}
	if got := retries([]stepResult{{Retried: true}, {}, {Retried: true}}); got != 2 {
		t.Errorf("retries = %d", got)
	}
	steps := []stepResult{{PerSec: 5, Pass: true}, {PerSec: 9, Pass: true}, {PerSec: 12}}
	if best, ok := bestStep(steps); !ok || best.PerSec != 9 {
		t.Errorf("bestStep = %+v %v", best, ok)
	}
	if best, ok := bestStep(steps[2:]); ok || best.PerSec != 12 {
		t.Errorf("bestStep without a pass = %+v %v", best, ok)
	}
}

func TestSummarize(t *testing.T) {
	in := `noise
RESULT workload=latency conns=2000 nodes=2 p50_ms=0.5 p99_ms=3 stop=yes
RESULT workload=latency conns=2000 nodes=2 p50_ms=0.7 p99_ms=2 stop=no:p99
RESULT workload=latency conns=2000 nodes=2 p50_ms=0.6 p99_ms=4 stop=yes
RESULT workload=memory conns=10000 rss_kib_per_conn=12.5
`
	sums, err := summarize(strings.NewReader(in))
	if err != nil || len(sums) != 2 {
		t.Fatalf("summarize: %v %v", sums, err)
	}
	l := sums[0]
	if l.Group != "workload=latency conns=2000 nodes=2" || l.Runs != 3 {
		t.Errorf("group %q runs %d", l.Group, l.Runs)
	}
	var b bytes.Buffer
	l.print(&b)
	for _, want := range []string{"(3 runs)", "0.6000  [0.5000 – 0.7000]", "3.000  [2.000 – 4.000]", "yes | no:p99"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
}

func Example_result() {
	r := newResult("memory")
	r.add("conns", 10000)
	r.add("rss_kib_per_conn", 11.23456)
	fmt.Println(r)
	// Output: RESULT workload=memory conns=10000 rss_kib_per_conn=11.23
}

func TestCompare(t *testing.T) {
	in := `RESULT workload=latency target=alarmgate gateway_rev=abc conns=200 nodes=2 rate=100.0 p50_ms=0.40 p99_ms=0.60 lost=0
RESULT workload=latency target=centrifugo peer_rev=v6.9.1 peer_history=1000 conns=200 nodes=2 rate=100.0 p50_ms=0.40 p99_ms=1.00 lost=0
RESULT workload=latency target=alarmgate gateway_rev=abc conns=200 nodes=2 rate=100.0 p50_ms=0.50 p99_ms=0.80 lost=0
RESULT workload=latency target=centrifugo peer_rev=v6.9.1 peer_history=1000 conns=200 nodes=2 rate=100.0 p50_ms=0.40 p99_ms=1.00 lost=0
RESULT workload=latency target=centrifugo peer_rev=v6.9.1 peer_history=1000 conns=999 nodes=2 rate=100.0 p99_ms=9
RESULT workload=publish target=alarmgate size=256 single_per_s=20000 single_cpu_us_per_alarm=45 batch_per_s=50000
RESULT workload=publish target=centrifugo peer_rev=v6.9.1 size=256 single_per_s=10000 single_cpu_us_per_alarm=50 batch_per_s=30000
RESULT workload=storm target=alarmgate conns=200 per=20 complete=0 all_complete_s=0
RESULT workload=storm target=centrifugo conns=200 per=20 complete=200 all_complete_s=0.2
`
	sums, err := summarize(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	compare(sums, &b)
	out := b.String()
	rows := map[string]string{}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	tests := []struct{ key, want string }{
		{"p99_ms", "0.7000 [0.6000–0.8000]"},
		{"p99_ms", "0.7000 ≤1× yes"},
		{"p50_ms", "1.125 ≤1× no"},
		{"single_per_s", "2.000 ≥1.3× yes"},
		{"single_cpu_us_per_alarm", "≤40 no"},
		{"batch_per_s", "1.667 ≥2× no"},
		{"all_complete_s", "no:incomplete"},
	}
	for _, tt := range tests {
		if !strings.Contains(strings.Join(strings.Fields(rows[tt.key]), " "), tt.want) {
			t.Errorf("row %s = %q, want it to contain %q\n%s", tt.key, rows[tt.key], tt.want, out)
		}
	}
	if strings.Count(out, "compare workload=latency") != 1 || strings.Contains(out, "conns=999") {
		t.Errorf("pairs:\n%s", out)
	}
}

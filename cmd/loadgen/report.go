package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// result is the machine-readable outcome of one run, printed as
// "RESULT workload=NAME k=v ..." in the order the keys were added.
type result struct {
	keys []string
	vals []string
}

func newResult(workload string) *result {
	r := &result{}
	r.add("workload", workload)
	return r
}

// add appends k=v; floats are rounded to 4 significant digits, durations
// must be converted by the caller (see ms and us).
func (r *result) add(k string, v any) {
	var s string
	switch x := v.(type) {
	case float64:
		s = formatFloat(x)
	case time.Duration:
		s = formatFloat(x.Seconds())
	default:
		s = fmt.Sprint(x)
	}
	r.keys = append(r.keys, k)
	r.vals = append(r.vals, strings.ReplaceAll(s, " ", "_"))
}

// String renders the RESULT line.
func (r *result) String() string {
	var b strings.Builder
	b.WriteString("RESULT")
	for i, k := range r.keys {
		b.WriteString(" " + k + "=" + r.vals[i])
	}
	return b.String()
}

// formatFloat keeps 4 significant digits without exponent for the usual
// range.
func formatFloat(x float64) string {
	if x == 0 || math.IsNaN(x) || math.IsInf(x, 0) {
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	digits := 3 - int(math.Floor(math.Log10(math.Abs(x))))
	if digits < 0 {
		digits = 0
	}
	return strconv.FormatFloat(x, 'f', digits, 64)
}

// ms converts d to milliseconds.
func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// us converts d to microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// table prints rows as they come, in columns as wide as their headers
// (at least 10), right-aligned.
type table struct {
	out    io.Writer
	widths []int
}

func newTable(out io.Writer, header ...string) *table {
	t := &table{out: out}
	for _, h := range header {
		t.widths = append(t.widths, max(len(h)+2, 10))
	}
	cells := make([]any, len(header))
	for i, h := range header {
		cells[i] = h
	}
	t.row(cells...)
	return t
}

func (t *table) row(cells ...any) {
	var b strings.Builder
	for i, c := range cells {
		var s string
		switch x := c.(type) {
		case float64:
			s = formatFloat(x)
		case time.Duration:
			s = fmtDur(x)
		default:
			s = fmt.Sprint(x)
		}
		w := 10
		if i < len(t.widths) {
			w = t.widths[i]
		}
		b.WriteString(strings.Repeat(" ", max(1, w-utf8.RuneCountInString(s))))
		b.WriteString(s)
	}
	fmt.Fprintln(t.out, b.String())
}

// fmtDur prints a latency compactly: µs below 1 ms, else ms.
func fmtDur(d time.Duration) string {
	if d < time.Millisecond {
		return formatFloat(us(d)) + "µs"
	}
	return formatFloat(ms(d)) + "ms"
}

// mib formats bytes as MiB.
func mib(b int64) float64 { return float64(b) / (1 << 20) }

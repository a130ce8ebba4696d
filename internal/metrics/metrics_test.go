package metrics

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	descName   = regexp.MustCompile(`fqName: "([^"]+)"`)
	descLabels = regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	docsRow    = regexp.MustCompile("(?m)^\\| `(alarmgate_[a-z_]+)(?:\\{([a-z_,]*)\\})?` \\| (counter|gauge|histogram) \\|")
)

// TestEveryMetricDocumented: each collector of Metrics has a row in the
// metrics table of docs/operations.md with its name, its labels and its
// type, and the table lists nothing that does not exist.
func TestEveryMetricDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/operations.md")
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ labels, typ string }
	documented := map[string]row{}
	for _, m := range docsRow.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = row{m[2], m[3]}
	}
	m := New(nil)
	v := reflect.ValueOf(m).Elem()
	seen := map[string]bool{}
	var all []prometheus.Collector
	for i := range v.NumField() {
		switch f := v.Field(i).Interface().(type) {
		case prometheus.Collector:
			all = append(all, f)
		case Ingest:
			all = append(all, f.collectors()...)
		default:
			t.Fatalf("field %s is not a collector", v.Type().Field(i).Name)
		}
	}
	for _, c := range all {
		ch := make(chan *prometheus.Desc, 1)
		c.Describe(ch)
		d := (<-ch).String()
		name := descName.FindStringSubmatch(d)[1]
		labels := strings.ReplaceAll(descLabels.FindStringSubmatch(d)[1], " ", "")
		seen[name] = true
		got, ok := documented[name]
		switch {
		case !ok:
			t.Errorf("%s: not in the metrics table of docs/operations.md", name)
		case got.labels != labels:
			t.Errorf("%s: docs give labels {%s}, the metric has {%s}", name, got.labels, labels)
		case got.typ != metricType(c):
			t.Errorf("%s: docs say %s, the metric is a %s", name, got.typ, metricType(c))
		}
	}
	for name := range documented {
		if !seen[name] {
			t.Errorf("%s: documented but not a metric", name)
		}
	}
}

func metricType(c prometheus.Collector) string {
	switch c.(type) {
	case prometheus.Histogram, *prometheus.HistogramVec:
		return "histogram"
	case prometheus.Gauge, *prometheus.GaugeVec:
		return "gauge"
	case prometheus.Counter, *prometheus.CounterVec:
		return "counter"
	}
	return "unknown"
}

func TestGaugeShare(t *testing.T) {
	g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "g"})
	a, b := NewGaugeShare(g), NewGaugeShare(g)
	for _, step := range []struct {
		a, b, want float64
	}{
		{3, 0, 3},
		{3, 4, 7},
		{1, 4, 5},
		{0, 0, 0},
	} {
		a.Set(step.a)
		b.Set(step.b)
		if got := testutil.ToFloat64(g); got != step.want {
			t.Fatalf("parts %v and %v: gauge %v, want %v", step.a, step.b, got, step.want)
		}
	}
}

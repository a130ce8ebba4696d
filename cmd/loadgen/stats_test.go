package main

import (
	"reflect"
	"strings"
	"testing"
)

const infoBefore = `# Commandstats
cmdstat_evalsha:calls=10,usec=500,usec_per_call=50.00,rejected_calls=0,failed_calls=0
cmdstat_info:calls=2,usec=100,usec_per_call=50.00,rejected_calls=0,failed_calls=0
cmdstat_xrevrange:calls=4,usec=40,usec_per_call=10.00,rejected_calls=0,failed_calls=0
cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0
`

const infoAfter = `# Commandstats
cmdstat_evalsha:calls=10,usec=500,usec_per_call=50.00,rejected_calls=0,failed_calls=0
cmdstat_info:calls=3,usec=150,usec_per_call=50.00,rejected_calls=0,failed_calls=0
cmdstat_xrevrange:calls=7,usec=70,usec_per_call=10.00,rejected_calls=0,failed_calls=0
cmdstat_publish:calls=2,usec=8,usec_per_call=4.00,rejected_calls=0,failed_calls=0
cmdstat_client|setinfo:calls=2,usec=3,usec_per_call=1.50,rejected_calls=0,failed_calls=0
`

func TestParseCommandStats(t *testing.T) {
	got := parseCommandStats(infoBefore)
	want := map[string]cmdStat{
		"evalsha":        {Calls: 10, Usec: 500},
		"info":           {Calls: 2, Usec: 100},
		"xrevrange":      {Calls: 4, Usec: 40},
		"client|setinfo": {Calls: 2, Usec: 3},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parseCommandStats = %v, want %v", got, want)
	}
	if got := parseCommandStats("# Commandstats\r\ngarbage\r\nnot_cmdstat:calls=1\r\n"); len(got) != 0 {
		t.Errorf("junk parsed as %v", got)
	}
	crlf := parseCommandStats("cmdstat_get:calls=5,usec=1,usec_per_call=0.20\r\n")
	if crlf["get"].Calls != 5 {
		t.Errorf("CRLF line: %v", crlf)
	}
}

func TestDiffCommandStats(t *testing.T) {
	ds, total := diffCommandStats(parseCommandStats(infoBefore), parseCommandStats(infoAfter))
	want := []cmdDelta{{"xrevrange", 3}, {"publish", 2}}
	if !reflect.DeepEqual(ds, want) || total != 5 {
		t.Errorf("diff = %v total %d, want %v total 5", ds, total, want)
	}
	if got := formatDeltas(ds); got != "xrevrange=3,publish=2" {
		t.Errorf("formatDeltas = %q", got)
	}
	if got := formatDeltas(nil); got != "none" {
		t.Errorf("formatDeltas(nil) = %q", got)
	}
}

const sampleMetrics = `# HELP go_memstats_heap_inuse_bytes Number of heap bytes that are in use.
# TYPE go_memstats_heap_inuse_bytes gauge
go_memstats_heap_inuse_bytes 1.2345e+07
go_memstats_heap_inuse_bytes_extra 5
go_goroutines 42
alarmgate_closes_total{code="1000"} 3
alarmgate_closes_total{code="4029"} 2
alarmgate_weird{label="a}b"} 1
`

func TestPromValue(t *testing.T) {
	tests := []struct {
		name string
		want float64
		ok   bool
	}{
		{"go_memstats_heap_inuse_bytes", 12345000, true},
		{"go_goroutines", 42, true},
		{"alarmgate_closes_total", 5, true},
		{"alarmgate_weird", 1, true},
		{"go_gorout", 0, false},
		{"missing", 0, false},
	}
	for _, tt := range tests {
		got, ok := promValue(sampleMetrics, tt.name)
		if got != tt.want || ok != tt.ok {
			t.Errorf("promValue(%s) = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in          []float64
		med, lo, hi float64
	}{
		{nil, 0, 0, 0},
		{[]float64{5}, 5, 5, 5},
		{[]float64{3, 1, 2}, 2, 1, 3},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4},
	}
	for _, tt := range tests {
		in := append([]float64(nil), tt.in...)
		med, lo, hi := median(in)
		if med != tt.med || lo != tt.lo || hi != tt.hi {
			t.Errorf("median(%v) = %v %v %v", tt.in, med, lo, hi)
		}
		if !reflect.DeepEqual(in, tt.in) && tt.in != nil {
			t.Errorf("median modified its input: %v", in)
		}
	}
}

func FuzzParseCommandStats(f *testing.F) {
	f.Add(infoBefore)
	f.Add("cmdstat_:calls=,usec=x")
	f.Fuzz(func(t *testing.T, s string) {
		for name := range parseCommandStats(s) {
			if strings.ContainsAny(name, ":\n") {
				t.Errorf("command name %q holds a separator", name)
			}
		}
	})
}

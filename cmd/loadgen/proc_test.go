package main

import (
	"errors"
	"testing"
	"time"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want time.Duration
		err  bool
	}{
		{"plain", "1234 (gateway) S 1 1234 1234 0 -1 4194560 5000 0 0 0 250 130 0 0 20 0 12 0 100 1000000 2000 18446744073709551615",
			3800 * time.Millisecond, false},
		{"name with spaces and parens", "77 (my (odd) name) R 1 2 3 4 5 6 7 8 9 10 7 3 0 0 20 0 1 0",
			100 * time.Millisecond, false},
		{"no paren", "1234 gateway S 1", 0, true},
		{"short", "1 (x) S 1 2 3", 0, true},
		{"not numbers", "1 (x) S 1 2 3 4 5 6 7 8 9 10 a b 0 0", 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseStatCPU([]byte(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

const sampleStatus = `Name:	gateway
Umask:	0022
State:	S (sleeping)
VmPeak:	 1261404 kB
VmSize:	 1261404 kB
VmHWM:	   52340 kB
VmRSS:	   48120 kB
RssAnon:	   30000 kB
Threads:	9
`

func TestParseStatusMem(t *testing.T) {
	rss, hwm, err := parseStatusMem([]byte(sampleStatus))
	if err != nil {
		t.Fatal(err)
	}
	if rss != 48120<<10 || hwm != 52340<<10 {
		t.Errorf("rss %d hwm %d", rss, hwm)
	}
	if _, _, err := parseStatusMem([]byte("Name:\tx\nVmRSS:\t1 kB\n")); !errors.Is(err, errProcFormat) {
		t.Errorf("missing VmHWM: err = %v", err)
	}
	if _, _, err := parseStatusMem([]byte("VmRSS:\t1 MB\nVmHWM:\t1 kB\n")); !errors.Is(err, errProcFormat) {
		t.Errorf("bad unit: err = %v", err)
	}
}

func TestCPUDelta(t *testing.T) {
	before := []procSample{{CPU: time.Second}, {CPU: 2 * time.Second}}
	after := []procSample{{CPU: 3 * time.Second}, {CPU: 2500 * time.Millisecond}}
	if got := cpuDelta(before, after); got != 2500*time.Millisecond {
		t.Errorf("cpuDelta = %v", got)
	}
}

func TestMachineFiles(t *testing.T) {
	cpu := "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\nprocessor\t: 1\nmodel name\t: AMD EPYC 7B13\n"
	if got := cpuModel([]byte(cpu)); got != "AMD EPYC 7B13" {
		t.Errorf("cpuModel = %q", got)
	}
	if got := cpuModel(nil); got != "unknown CPU" {
		t.Errorf("cpuModel(nil) = %q", got)
	}
	n, ok := memTotal([]byte("MemTotal:       24683940 kB\nMemFree:        22517676 kB\n"))
	if !ok || n != 24683940<<10 {
		t.Errorf("memTotal = %d, %v", n, ok)
	}
	if _, ok := memTotal([]byte("MemFree: 1 kB\n")); ok {
		t.Error("memTotal without MemTotal should fail")
	}
}

func TestParseLoadAvg(t *testing.T) {
	if v, err := parseLoadAvg([]byte("3.72 2.15 1.02 4/512 9999\n")); err != nil || v != 3.72 {
		t.Errorf("parseLoadAvg = %v, %v", v, err)
	}
	for _, bad := range []string{"", "x y z", "1.0 2.0"} {
		if _, err := parseLoadAvg([]byte(bad)); err == nil {
			t.Errorf("parseLoadAvg(%q) should fail", bad)
		}
	}
}

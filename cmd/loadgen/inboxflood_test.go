package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestParseInfoCPU(t *testing.T) {
	tests := []struct {
		name, info string
		want       time.Duration
	}{
		{"sys and user", "# CPU\r\nused_cpu_sys:1.250000\r\nused_cpu_user:0.500000\r\nused_cpu_sys_children:9.0\r\n", 1750 * time.Millisecond},
		{"with commandstats", "# CPU\nused_cpu_user:2.000000\n# Commandstats\ncmdstat_info:calls=1,usec=10\n", 2 * time.Second},
		{"none", "# Server\nredis_version:7.0.15\n", 0},
		{"garbage value", "used_cpu_sys:x\nused_cpu_user:0.25\n", 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := parseInfoCPU(tt.info); got != tt.want {
				t.Errorf("parseInfoCPU = %v, want %v", got, tt.want)
			}
		})
	}
}

// TestFloodMessages checks that every hostile message is one JSON object
// with the fields the gateway reads, and that the sync message's op does
// not decode as a string (the gateway answers it bad_request).
func TestFloodMessages(t *testing.T) {
	bodies := floodBodies("1700000000000-0")
	for role, msgs := range bodies {
		for _, b := range msgs {
			for _, m := range [][]byte{b, asWS(b)} {
				var op string
				var raw map[string]json.RawMessage
				if err := json.Unmarshal(m, &raw); err != nil {
					t.Fatalf("role %d: %s: %v", role, m, err)
				}
				if err := json.Unmarshal(raw["op"], &op); err != nil || op == "" {
					t.Errorf("role %d: %s: no op", role, m)
				}
				_, hasIDs := raw["ids"]
				_, hasUpTo := raw["up_to"]
				if hasIDs == hasUpTo {
					t.Errorf("role %d: %s: want ids or up_to", role, m)
				}
			}
			if !bytes.HasPrefix(asWS(b), []byte(`{"type":"state","op":`)) {
				t.Errorf("asWS(%s) = %s", b, asWS(b))
			}
		}
	}
	var op string
	var sync map[string]json.RawMessage
	if err := json.Unmarshal(syncMsg, &sync); err != nil || json.Unmarshal(sync["op"], &op) == nil {
		t.Errorf("syncMsg %s: its op must be valid JSON but not a string", syncMsg)
	}
}

func TestP99Ratio(t *testing.T) {
	tests := []struct {
		p, base time.Duration
		want    float64
	}{
		{2 * time.Millisecond, time.Millisecond, 2},
		{time.Millisecond, 4 * time.Millisecond, 0.25},
		{time.Millisecond, 0, 0},
	}
	for _, tt := range tests {
		if got := p99Ratio(tt.p, tt.base); got != tt.want {
			t.Errorf("p99Ratio(%v, %v) = %v, want %v", tt.p, tt.base, got, tt.want)
		}
	}
}

func floodFixture() []phaseResult {
	ph := func(i int, pub99, del99 time.Duration) phaseResult {
		return phaseResult{floodPhase: floodPhases[i], Load1: 1.5,
			Pub:       latencySummary{P50: time.Millisecond, P90: 2 * time.Millisecond, P99: pub99, Max: 2 * pub99},
			Del:       latencySummary{P50: time.Millisecond, P90: 2 * time.Millisecond, P99: del99, Max: 2 * del99},
			Published: 3000, Received: 2999, RedisCmds: 10, RedisTop: "evalsha=10"}
	}
	phases := []phaseResult{ph(0, 2*time.Millisecond, 4*time.Millisecond),
		ph(1, 3*time.Millisecond, 4*time.Millisecond), ph(2, 5*time.Millisecond, 4*time.Millisecond)}
	phases[1].Flood = floodTotals{Sent: 100000, Accepted: 300, Limited: 99700}
	return phases
}

func TestFloodTable(t *testing.T) {
	var b bytes.Buffer
	floodTable(&b, floodFixture())
	lines := strings.Split(strings.TrimRight(b.String(), "\n"), "\n")
	if len(lines) != 6 {
		t.Fatalf("want header, 3 rows and 2 verdicts:\n%s", b.String())
	}
	for i, want := range []struct {
		name   string
		fields []string // ratios, publish errors, lost, sent, accepted, limited
	}{
		{"baseline", []string{"1.000", "1.000", "0", "1", "0", "0", "0"}},
		{"ws-state", []string{"1.500", "1.000", "0", "1", "100000", "300", "99700"}},
		{"http", []string{"2.500", "1.000", "0", "1", "0", "0", "0"}},
	} {
		f := strings.Fields(lines[i+1])
		if len(f) != 18 || f[0] != want.name {
			t.Fatalf("row %d: %q", i, lines[i+1])
		}
		if got := f[8:15]; strings.Join(got, " ") != strings.Join(want.fields, " ") {
			t.Errorf("%s: ratios…limited = %v, want %v", want.name, got, want.fields)
		}
	}
	if !strings.Contains(lines[4], "ws-state: victim p99 within 2x") {
		t.Errorf("verdict: %s", lines[4])
	}
	if !strings.Contains(lines[5], "http: victim p99 NOT within 2x") || !strings.Contains(lines[5], "publish 2.50x") {
		t.Errorf("verdict: %s", lines[5])
	}
}

func TestFloodResult(t *testing.T) {
	co := &common{kind: alarmgate{}, load1: 0.5}
	o := &floodOpts{rate: 200, size: 256, fill: 1000, fillSize: 4096, ws: 8, reads: 8, httpState: 4, phase: 15 * time.Second}
	line := floodResult(co, o, floodFixture()).String()
	keys, vals, ok := parseResultLine(line)
	if !ok {
		t.Fatalf("not a RESULT line: %s", line)
	}
	got := map[string]string{}
	for i, k := range keys {
		if _, dup := got[k]; dup {
			t.Errorf("key %s twice", k)
		}
		got[k] = vals[i]
	}
	for k, want := range map[string]string{
		"workload": "inbox-flood", "rate": "200.0", "base_pub_p99_ms": "2.000",
		"ws_pub_p99_x": "1.500", "http_pub_p99_x": "2.500", "ws_limited": "99700", "base_lost": "1",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if _, ok := got["base_pub_p99_x"]; ok {
		t.Error("the baseline has no ratio")
	}
}

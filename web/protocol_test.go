package web

import (
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

// jsObject returns the entries of `const name = Object.freeze({ K: V, ... });`
// in client.js, values unquoted.
func jsObject(t *testing.T, src, name string) map[string]string {
	t.Helper()
	block := regexp.MustCompile(`(?s)\bconst ` + name + ` = Object\.freeze\(\{(.*?)\}\);`).FindStringSubmatch(src)
	if block == nil {
		t.Fatalf("client.js has no `const %s = Object.freeze({...});`", name)
	}
	entry := regexp.MustCompile(`^\s*([A-Z][A-Z0-9_]*)\s*:\s*(\d+|'[^']*'|"[^"]*")\s*$`)
	out := make(map[string]string)
	for _, part := range strings.Split(block[1], ",") {
		if strings.TrimSpace(part) == "" {
			continue
		}
		m := entry.FindStringSubmatch(part)
		if m == nil {
			t.Fatalf("client.js %s: cannot read entry %q", name, strings.TrimSpace(part))
		}
		out[m[1]] = strings.Trim(m[2], `'"`)
	}
	return out
}

func clientJS(t *testing.T) string {
	t.Helper()
	b, err := static.ReadFile("static/client.js")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func checkSame(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("client.js %s = %v, package protocol has %v", what, got, want)
	}
}

// TestClientJSMatchesProtocol keeps client.js's copy of the protocol's
// vocabulary equal to package protocol's.
func TestClientJSMatchesProtocol(t *testing.T) {
	src := clientJS(t)
	closes := map[string]protocol.CloseCode{
		"NORMAL": protocol.CloseNormal, "RESTART": protocol.CloseRestart, "TRY_LATER": protocol.CloseTryLater,
		"PROTOCOL": protocol.CloseProtocol, "AUTH": protocol.CloseAuth, "NO_HELLO": protocol.CloseNoHello,
		"SLOW_CLIENT": protocol.CloseSlowClient,
	}
	wantCloses := make(map[string]string)
	for k, v := range closes {
		wantCloses[k] = strconv.Itoa(int(v))
	}
	checkSame(t, "CLOSE", jsObject(t, src, "CLOSE"), wantCloses)

	statuses := []protocol.Status{protocol.StatusNew, protocol.StatusResumed, protocol.StatusExpired,
		protocol.StatusEpochChanged, protocol.StatusInvalid}
	wantStatuses := make(map[string]string)
	for _, s := range statuses {
		wantStatuses[strings.ToUpper(string(s))] = string(s)
	}
	checkSame(t, "STATUS", jsObject(t, src, "STATUS"), wantStatuses)

	wantTypes := make(map[string]string)
	for _, s := range []string{protocol.TypeHello, protocol.TypeWelcome, protocol.TypeAlarm, protocol.TypePing, protocol.TypeClose, protocol.TypeState, protocol.TypeError} {
		wantTypes[strings.ToUpper(s)] = s
	}
	checkSame(t, "TYPE", jsObject(t, src, "TYPE"), wantTypes)

	// STOP_CODES are the codes after which a client does not reconnect.
	m := regexp.MustCompile(`\bconst STOP_CODES = new Set\(\[([^\]]*)\]\);`).FindStringSubmatch(src)
	if m == nil {
		t.Fatal("client.js has no `const STOP_CODES = new Set([...]);`")
	}
	var stop, wantStop []string
	for _, s := range strings.Split(m[1], ",") {
		stop = append(stop, strings.TrimPrefix(strings.TrimSpace(s), "CLOSE."))
	}
	for name, c := range closes {
		if !c.Reconnect() {
			wantStop = append(wantStop, name)
		}
	}
	slices.Sort(stop)
	slices.Sort(wantStop)
	if !slices.Equal(stop, wantStop) {
		t.Errorf("client.js STOP_CODES = %v, want the codes without Reconnect: %v", stop, wantStop)
	}
}

func TestClientJSUsesNoBareCodes(t *testing.T) {
	src := clientJS(t)
	// Outside the CLOSE table, close codes appear by name only (comments
	// and 1006, the local idle-timeout pseudo code, aside).
	code := regexp.MustCompile(`\b(1000|1012|1013|4000|4001|4008|4029)\b`)
	tableEntry := regexp.MustCompile(`^[A-Z_]+: \d+,$`)
	for i, line := range strings.Split(src, "\n") {
		l, _, _ := strings.Cut(line, "//")
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "*") || strings.HasPrefix(l, "/**") || tableEntry.MatchString(l) {
			continue // doc comment, or an entry of the CLOSE table
		}
		if code.MatchString(l) {
			t.Errorf("client.js:%d uses a bare close code: %s", i+1, l)
		}
	}
}

package e2e

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// The checker itself must catch what the scenarios look for.
func TestCheckRecord(t *testing.T) {
	exp := make([]accepted, 6)
	for i := range exp {
		s := fmt.Sprintf("100-%d", i+1)
		id, _ := parseSID(s)
		exp[i] = accepted{id: id, idStr: s, channel: "user:a"}
	}
	al := func(ids ...int) []wireAlarm {
		var out []wireAlarm
		for _, i := range ids {
			out = append(out, wireAlarm{id: exp[i].id, idStr: exp[i].idStr, channel: "user:a"})
		}
		return out
	}
	conn := func(status, pos string, ids ...int) connRec {
		return connRec{node: "gw", status: status, position: pos, alarms: al(ids...)}
	}
	tests := []struct {
		name  string
		conns []connRec
		gapOK []string
		want  string // substring of the error; "" for none
	}{
		{"complete in one", []connRec{conn("new", "0-0", 0, 1, 2, 3, 4, 5)}, nil, ""},
		{"complete across resumes", []connRec{conn("new", "100-1", 1, 2), conn("resumed", "100-3", 3), conn("resumed", "100-4", 4, 5)}, nil, ""},
		{"incomplete", []connRec{conn("new", "0-0", 0, 1)}, nil, "incomplete"},
		{"lost in the middle", []connRec{conn("new", "0-0", 0, 2, 3, 4, 5)}, nil, "got 100-3"},
		{"lost across a resume", []connRec{conn("new", "0-0", 0, 1), conn("resumed", "100-3", 3, 4, 5)}, nil, "resumed at 100-3"},
		{"duplicate", []connRec{conn("new", "0-0", 0, 1, 1, 2, 3, 4, 5)}, nil, "got 100-2"},
		{"reordered", []connRec{conn("new", "0-0", 0, 2, 1, 3, 4, 5)}, nil, "got 100-3"},
		{"extra at the end", []connRec{conn("new", "0-0", 0, 1, 2, 3, 4, 5, 5)}, nil, "want nothing more"},
		{"unexpected status", []connRec{conn("new", "0-0", 0), conn("expired", "100-4", 4, 5)}, nil, `status "expired"`},
		{"declared gap", []connRec{conn("new", "0-0", 0), conn("expired", "100-4", 4, 5)}, []string{"expired"}, ""},
		{"first not new", []connRec{conn("resumed", "0-0", 0, 1, 2, 3, 4, 5)}, nil, "want new"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkRecord(tc.conns, exp, tc.gapOK...)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			case tc.want == "incomplete" && !errors.Is(err, errIncomplete):
				t.Fatalf("error %v is not errIncomplete", err)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	var exp []accepted
	for i := 1; i <= 10; i++ {
		s := fmt.Sprintf("5-%d", i)
		id, _ := parseSID(s)
		exp = append(exp, accepted{id: id, idStr: s, channel: "c"})
	}
	w := func(ids ...int) []wireAlarm {
		var out []wireAlarm
		for _, i := range ids {
			out = append(out, wireAlarm{id: exp[i].id, idStr: exp[i].idStr})
		}
		return out
	}
	conns := []connRec{
		{status: "new", position: "5-2", alarms: w(2, 3, 3)},
		{status: "new", position: "5-7", alarms: w(7, 6, 8)},
	}
	got := measure(conns, exp, false)
	want := stats{expected: 8, received: 6, lost: 3, dup: 1, reordered: 1}
	if got != want {
		t.Fatalf("measure = %+v, want %+v", got, want)
	}
	got = measure(conns, exp, true)
	want = stats{expected: 5, received: 6, lost: 1, dup: 1, reordered: 1, gapSkipped: 3}
	if got != want {
		t.Fatalf("measure(excludeGaps) = %+v, want %+v", got, want)
	}
}

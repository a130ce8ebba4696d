package client

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"
)

func TestSplitFrame(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"\n", nil},
		{`{"a":1}`, []string{`{"a":1}`}},
		{"a\nb", []string{"a", "b"}},
		{"a\n\nb\n", []string{"a", "b"}},
		{"\n\na", []string{"a"}},
	}
	for _, tt := range tests {
		got := splitFrame([]byte(tt.in))
		if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
			t.Errorf("splitFrame(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want streamID
		ok   bool
	}{
		{"0-0", streamID{}, true},
		{"1732530000000-3", streamID{1732530000000, 3}, true},
		{"18446744073709551615-18446744073709551615", streamID{1<<64 - 1, 1<<64 - 1}, true},
		{"18446744073709551616-0", streamID{}, false},
		{"", streamID{}, false},
		{"1", streamID{}, false},
		{"-1", streamID{}, false},
		{"1-", streamID{}, false},
		{"1-2-3", streamID{}, false},
		{"+1-2", streamID{}, false},
		{" 1-2", streamID{}, false},
		{"a-b", streamID{}, false},
	}
	for _, tt := range tests {
		got, ok := parseID(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("parseID(%q) = %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestCompareID(t *testing.T) {
	ids := []string{"0-0", "0-1", "1-0", "1-9", "2-10", "10-0"} // ascending
	for i, a := range ids {
		for j, b := range ids {
			x, _ := parseID(a)
			y, _ := parseID(b)
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := x.compare(y); got != want {
				t.Errorf("compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func FuzzSplitFrame(f *testing.F) {
	f.Add([]byte(welcomeMsg("e1", "1-0", StatusResumed, 2) + "\n" + alarmMsg("2-0") + "\n"))
	f.Add([]byte(`{"type":"ping"}`))
	f.Add([]byte("\n\n{\n"))
	f.Add([]byte(`{"type":"alarm","id":"99999999999999999999-1","data":[1,2]}`))
	f.Add([]byte(`{"type":"welcome","resume":null,"channels":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		lines := splitFrame(b)
		n := 0
		for _, l := range lines {
			if len(l) == 0 || bytes.IndexByte(l, '\n') >= 0 {
				t.Fatalf("bad line %q", l)
			}
			n += len(l)
			m, err := decodeMessage(l)
			if err != nil {
				continue
			}
			_ = m.welcome()
			_ = m.alarm()
			if id, ok := parseID(m.ID); ok {
				if s := strconv.FormatUint(id.ms, 10) + "-" + strconv.FormatUint(id.seq, 10); len(s) > len(m.ID) {
					t.Fatalf("id %q parsed to longer %q", m.ID, s)
				}
			}
		}
		if want := len(b) - bytes.Count(b, []byte{'\n'}); n != want {
			t.Fatalf("lines hold %d bytes, frame has %d non-newline bytes", n, want)
		}
	})
}

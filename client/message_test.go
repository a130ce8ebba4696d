package client

import (
	"bytes"
	"fmt"
	"strconv"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
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

func FuzzSplitFrame(f *testing.F) {
	f.Add([]byte(welcomeMsg("e1", "1-0", protocol.StatusResumed, 2) + "\n" + alarmMsg("2-0") + "\n"))
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
			_ = welcomeOf(m.Welcome())
			_ = alarmOf(m.Alarm())
			if id, err := protocol.ParseID(m.ID); err == nil {
				if s := strconv.FormatUint(id.MS, 10) + "-" + strconv.FormatUint(id.Seq, 10); len(s) > len(m.ID) {
					t.Fatalf("id %q parsed to longer %q", m.ID, s)
				}
			}
		}
		if want := len(b) - bytes.Count(b, []byte{'\n'}); n != want {
			t.Fatalf("lines hold %d bytes, frame has %d non-newline bytes", n, want)
		}
	})
}

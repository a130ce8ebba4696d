package strictjson

import (
	"encoding/json"
	"errors"
	"testing"
)

type inner struct {
	A string `json:"a"`
}

type outer struct {
	inner
	B       int    `json:"b,omitempty"`
	C       string `json:"-"`
	D       string
	private int // unexported: not a member name
}

func TestNames(t *testing.T) {
	got := Names(outer{private: 1})
	want := []string{"a", "b", "D"}
	if len(got) != len(want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Names = %v, want %v", got, want)
		}
	}
}

func TestCheckKeys(t *testing.T) {
	known := []string{"channel", "event", "data"}
	tests := []struct {
		name         string
		in           string
		allowUnknown bool
		want         error
		key          string
	}{
		{"ok", `{"channel":"a","event":"e","data":{"Channel":1,"channel":2}}`, false, nil, ""},
		{"empty", ` { } `, false, nil, ""},
		{"case", `{"channel":"c1","Channel":"user:alice"}`, false, ErrCase, "Channel"},
		{"case only", `{"EVENT":"e"}`, true, ErrCase, "EVENT"},
		{"duplicate", `{"channel":"a","channel":"b"}`, false, ErrDuplicate, "channel"},
		{"escaped duplicate", `{"channel":"a","\u0063hannel":"b"}`, false, ErrDuplicate, "channel"},
		{"kelvin sign, unknown", "{\"\u212aey\":1}", false, ErrUnknown, "\u212aey"},
		{"unknown", `{"x":1}`, false, ErrUnknown, "x"},
		{"unknown allowed", `{"x":1,"y":[1,{"x":2}]}`, true, nil, ""},
		{"unknown duplicate", `{"x":1,"x":2}`, true, ErrDuplicate, "x"},
		{"array", `[]`, false, ErrNotObject, ""},
		{"truncated", `{"channel":`, false, ErrNotObject, ""},
		{"trailing comma", `{"channel":"a",}`, false, ErrNotObject, ""},
		{"trailing value", `{}0`, false, ErrNotObject, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckKeys([]byte(tt.in), known, tt.allowUnknown)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			var ke *KeyError
			if errors.As(err, &ke) && ke.Key != tt.key {
				t.Fatalf("key = %q, want %q", ke.Key, tt.key)
			}
		})
	}
}

// FuzzCheckKeys: whatever CheckKeys accepts, encoding/json decodes into a
// map with one entry per member, and no accepted name folds onto a known
// name it differs from.
func FuzzCheckKeys(f *testing.F) {
	for _, s := range []string{`{"channel":"a","event":"e"}`, `{"Channel":1}`, `{"a":1,"a":2}`, `{"\u0063hannel":1}`, `{`, `[]`} {
		f.Add([]byte(s))
	}
	known := []string{"channel", "event"}
	f.Fuzz(func(t *testing.T, b []byte) {
		if CheckKeys(b, known, true) != nil {
			return
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("accepted %q, which does not decode: %v", b, err)
		}
		for k := range m {
			if checkName(k, known, true) != nil {
				t.Fatalf("accepted name %q in %q", k, b)
			}
		}
	})
}

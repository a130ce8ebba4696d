package strictjson

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestMembers(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want []string // name=value pairs
	}{
		{`{}`, true, nil},
		{` { } `, true, nil},
		{` { "a" : 1 , "b":[1,{"c":"}"}], "\u0063":"x\"y" } `, true, []string{`a=1`, `b=[1,{"c":"}"}]`, `\u0063="x\"y"`}},
		{`{"a":{"b":{}},"d":null}`, true, []string{`a={"b":{}}`, `d=null`}},
		{`{"a":1,"b":}`, false, []string{`a=1`}},
		{`{"a":1}x`, false, []string{`a=1`}},
		{`{"a":1,}`, false, []string{`a=1`}},
		{`{"a" 1}`, false, nil},
		{`{a:1}`, false, nil},
		{`{"a":01}`, false, []string{`a=0`}}, // "0" is a value; "1" cannot follow it
		{`{`, false, nil},
		{`[]`, false, nil},
		{`"s"`, false, nil},
		{``, false, nil},
	}
	for _, tt := range tests {
		var got []string
		ok := Members([]byte(tt.in), func(name, value []byte) bool {
			got = append(got, string(name)+"="+string(value))
			return true
		})
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Members(%s) = %v %q, want %v %q", tt.in, ok, got, tt.ok, tt.want)
		}
	}
	if Members([]byte(`{"a":1,"b":2}`), func(name, _ []byte) bool { return string(name) != "b" }) {
		t.Error("Members reported true although fn stopped it")
	}
}

func TestElements(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want []string
	}{
		{`[]`, true, nil},
		{` [ 1 , "]" , {"a":[]} ] `, true, []string{`1`, `"]"`, `{"a":[]}`}},
		{`[1,]`, false, []string{`1`}},
		{`[1 2]`, false, []string{`1`}},
		{`[1]]`, false, []string{`1`}},
		{`{}`, false, nil},
		{`null`, false, nil},
	}
	for _, tt := range tests {
		var got []string
		ok := Elements([]byte(tt.in), func(value []byte) bool {
			got = append(got, string(value))
			return true
		})
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Elements(%s) = %v %q, want %v %q", tt.in, ok, got, tt.ok, tt.want)
		}
	}
}

// TestMembersDepth: Members nests as deep as Valid allows, no deeper.
func TestMembersDepth(t *testing.T) {
	all := func(_, _ []byte) bool { return true }
	for _, n := range []int{9998, 9999, 10000} {
		in := []byte(`{"a":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}`)
		if got, want := Members(in, all), json.Valid(in); got != want {
			t.Errorf("depth %d: Members %v, json.Valid %v", n+1, got, want)
		}
	}
}

func TestMembersAllocs(t *testing.T) {
	in := []byte(benchObject)
	items := []byte(`[` + benchObject + `,` + benchObject + `]`)
	allocs := testing.AllocsPerRun(100, func() {
		Members(in, func(_, _ []byte) bool { return true })
		Elements(items, func(_ []byte) bool { return true })
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}

// FuzzMembers: Members and Elements accept what json.Valid accepts when it
// is an object or an array, and hand fn the members and elements
// encoding/json finds.
func FuzzMembers(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c.in))
	}
	for _, s := range []string{benchObject, `{"a":1,"a":2}`, ` {"\u0061" : [1, {}] } `, `[1, "a", {"b":null}]`, `{"a":1}}`, `[[1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var obj []json.RawMessage // names and values, alternating
		okObj := Members(b, func(name, value []byte) bool {
			obj = append(obj, append([]byte(`"`), append(name, '"')...), value)
			return true
		})
		var arr []json.RawMessage
		okArr := Elements(b, func(value []byte) bool {
			arr = append(arr, value)
			return true
		})
		first := firstByte(b)
		if okObj != (json.Valid(b) && first == '{') || okArr != (json.Valid(b) && first == '[') {
			t.Fatalf("%q: Members %v, Elements %v, json.Valid %v", b, okObj, okArr, json.Valid(b))
		}
		if okArr {
			var want []json.RawMessage
			if err := json.Unmarshal(b, &want); err != nil || len(want) != len(arr) {
				t.Fatalf("%q: elements %q, encoding/json %q %v", b, arr, want, err)
			}
			for i := range want {
				if string(want[i]) != string(arr[i]) {
					t.Fatalf("%q: element %d is %q, encoding/json %q", b, i, arr[i], want[i])
				}
			}
		}
		if okObj {
			names, ok := memberNames(b)
			if !ok || len(names) != len(obj)/2 {
				t.Fatalf("%q: members %q, encoding/json names %q", b, obj, names)
			}
			for i, n := range names {
				var name string
				if err := json.Unmarshal(obj[2*i], &name); err != nil || name != n {
					t.Fatalf("%q: name %d is %s, encoding/json %q", b, i, obj[2*i], n)
				}
			}
		}
	})
}

// firstByte returns the first byte of b that is not JSON whitespace, or 0.
func firstByte(b []byte) byte {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c
		}
	}
	return 0
}

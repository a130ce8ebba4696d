package strictjson

import (
	"reflect"
	"testing"
)

func TestMembers(t *testing.T) {
	tests := []struct {
		in   string
		ok   bool
		want []string // name=value pairs
	}{
		{`{}`, true, nil},
		{` { "a" : 1 , "b":[1,{"c":"}"}], "\u0063":"x\"y" } `, true, []string{`a=1`, `b=[1,{"c":"}"}]`, `c="x\"y"`}},
		{`{"a":{"b":{}},"d":null}`, true, []string{`a={"b":{}}`, `d=null`}},
		{`[]`, false, nil},
		{`"s"`, false, nil},
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

func TestFields(t *testing.T) {
	names := []string{"a", "b"}
	tests := []struct {
		in   string
		ok   bool
		want []string // index=value pairs
	}{
		{`{"b":2,"a":{"b":1}}`, true, []string{`1=2`, `0={"b":1}`}},
		{`{"\u0061":1}`, true, []string{`0=1`}},
		{`{}`, true, nil},
		{`{"a":1,"c":2}`, false, []string{`0=1`}},
		{`{"A":1}`, false, nil},
		{`{"a":1,"a":2}`, false, []string{`0=1`}},
		{`[]`, false, nil},
	}
	for _, tt := range tests {
		var got []string
		ok := Fields([]byte(tt.in), names, func(i int, value []byte) bool {
			got = append(got, string(rune('0'+i))+"="+string(value))
			return true
		})
		if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Fields(%s) = %v %q, want %v %q", tt.in, ok, got, tt.ok, tt.want)
		}
	}
	if Fields([]byte(`{"a":1,"b":2}`), names, func(i int, _ []byte) bool { return i != 1 }) {
		t.Error("Fields reported true although fn stopped it")
	}
}

func TestElements(t *testing.T) {
	var got []string
	ok := Elements([]byte(` [ 1, "a,]", {"b":[2]} ,[] ] `), func(v []byte) bool {
		got = append(got, string(v))
		return true
	})
	if want := []string{`1`, `"a,]"`, `{"b":[2]}`, `[]`}; !ok || !reflect.DeepEqual(got, want) {
		t.Fatalf("Elements = %v %q, want %q", ok, got, want)
	}
	if Elements([]byte(`{}`), func([]byte) bool { return true }) {
		t.Fatal("Elements accepted an object")
	}
}

func TestString(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`"abc"`, "abc", true},
		{`"a\"b\u00e9"`, "a\"bé", true},
		{"\"\x88\"", "\uFFFD", true},
		{`1`, "", false},
		{`null`, "", false},
	}
	for _, tt := range tests {
		if got, ok := String([]byte(tt.in)); got != tt.want || ok != tt.ok {
			t.Errorf("String(%s) = %q %v, want %q %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

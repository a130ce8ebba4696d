package strictjson

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// validCases are inputs on which a validator is easy to get wrong. The
// tests compare Valid and AppendCompact with encoding/json on each, so
// the expectations are encoding/json's, not written down here; want only
// documents them and guards against encoding/json's changing under us.
var validCases = []struct {
	in   string
	want bool
}{
	{"", false},
	{" \t\r\n", false},
	{"\f1", false}, // form feed is not JSON whitespace
	{"1\v", false},
	{"\u00a01", false},
	{"0", true},
	{"-0", true},
	{"-0.0e-0", true},
	{"01", false},
	{"-01", false},
	{"00", false},
	{"1.", false},
	{".5", false},
	{"+1", false},
	{"1e", false},
	{"1e+", false},
	{"1e+5", true},
	{"1E-5", true},
	{"1.5e05", true},
	{"1.e5", false},
	{"-", false},
	{"--1", false},
	{"1.2.3", false},
	{"0x10", false},
	{"1 2", false},
	{"Infinity", false},
	{"NaN", false},
	{"true", true},
	{"tru", false},
	{"truee", false},
	{"True", false},
	{"false", true},
	{"null", true},
	{"nul", false},
	{` "x" `, true},
	{`"`, false},
	{`"\"`, false},
	{`"\u12"`, false},
	{`"\u12`, false},
	{`"\u123`, false},
	{`"\u1234`, false},
	{`"\u1234"`, true},
	{`"\uABcd"`, true},
	{`"\uD800"`, true}, // lone surrogate: encoding/json accepts it
	{`"\u00g0"`, false},
	{`"\U0041"`, false},
	{`"\x41"`, false},
	{`"\'"`, false},
	{`"\a"`, false},
	{`"\"\\\/\b\f\n\r\t"`, true},
	{"\"a\tb\"", false},
	{"\"a\nb\"", false},
	{"\"\x00\"", false},
	{"\"\x1f\"", false},
	{"\"\x7f\"", true},
	{"\"\xff\xfe\"", true}, // invalid UTF-8: encoding/json does not check
	{"\"\xe2\x80\xa8\"", true},
	{`"<>&"`, true},
	{"{}", true},
	{"[]", true},
	{"[ ]", true},
	{"{ }", true},
	{"[", false},
	{"]", false},
	{"{", false},
	{"[1,]", false},
	{"[,1]", false},
	{"[1 2]", false},
	{"[1,,2]", false},
	{`{"a":1,}`, false},
	{`{"a"}`, false},
	{`{"a":}`, false},
	{`{"a" 1}`, false},
	{`{1:1}`, false},
	{`{a:1}`, false},
	{`{'a':1}`, false},
	{`{"a":1 "b":2}`, false},
	{`{"a":1]`, false},
	{`[1}`, false},
	{`[{]}`, false},
	{`[{}]`, true},
	{`{"a":[]}`, true},
	{"[1]x", false},
	{"{}{}", false},
	{"[] []", false},
	{"[]\n", true},
	{"\n[]", true},
	{`{"a" : [ 1 , { "b" : null } ] , "c":"d e"}`, true},
	{" \t{ \"a\\\" b\" :\r\n[ true,false ,null]\n}\t ", true},
}

func TestValidCases(t *testing.T) {
	for _, c := range validCases {
		b := []byte(c.in)
		if got, want := json.Valid(b), c.want; got != want {
			t.Errorf("json.Valid(%q) = %v; the table says %v", c.in, got, want)
		}
		checkAgainstEncodingJSON(t, b)
	}
}

// checkAgainstEncodingJSON fails t unless Valid and AppendCompact do on b
// what json.Valid and json.Compact do.
func checkAgainstEncodingJSON(t *testing.T, b []byte) {
	t.Helper()
	valid := json.Valid(b)
	if got := Valid(b); got != valid {
		t.Fatalf("Valid(%q) = %v, json.Valid = %v", b, got, valid)
	}
	var want bytes.Buffer
	want.WriteString("prefix")
	err := json.Compact(&want, b)
	if (err == nil) != valid {
		t.Fatalf("json.Compact(%q): %v, json.Valid = %v", b, err, valid)
	}
	got, ok := AppendCompact([]byte("prefix"), b)
	if ok != valid {
		t.Fatalf("AppendCompact(%q) reports %v, json.Valid = %v", b, ok, valid)
	}
	if !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("AppendCompact(%q) = %q, json.Compact writes %q", b, got, want.Bytes())
	}
	if got, ok := AppendCompact(nil, b); ok && !bytes.Equal(got, want.Bytes()[len("prefix"):]) {
		t.Fatalf("AppendCompact(nil, %q) = %q", b, got)
	}
}

// TestDepth: encoding/json allows 10000 nested objects and arrays and no
// more; Valid agrees at and around that limit, for arrays, objects and a
// mix, and on nesting errors at the points where value starts a new call
// (every 64 levels).
func TestDepth(t *testing.T) {
	for _, n := range []int{1, 63, 64, 65, 127, 128, 129, 9999, 10000, 10001, 20000} {
		arrays := strings.Repeat("[", n) + strings.Repeat("]", n)
		objects := strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n)
		for _, s := range []string{arrays, objects, mixed(n, -1), mixed(n, n/2), mixed(n, n-1), mixed(n, 63), mixed(n, 64)} {
			checkAgainstEncodingJSON(t, []byte(s))
		}
	}
	deep := strings.Repeat("[", 10000) + strings.Repeat("]", 10000)
	if !json.Valid([]byte(deep)) || json.Valid([]byte("["+deep+"]")) {
		t.Error("encoding/json's depth limit is no longer 10000")
	}
}

// mixed nests n values, arrays and objects in turn, each holding the
// next after a sibling, and, if wrong >= 0, closes level wrong with the
// other kind of bracket.
func mixed(n, wrong int) string {
	var b strings.Builder
	for k := range n {
		if k%3 == 0 {
			b.WriteString(`{"k" : 1, "v":`)
		} else {
			b.WriteString("[ 0,\n")
		}
	}
	b.WriteString(`"x"`)
	for k := n - 1; k >= 0; k-- {
		object := k%3 == 0
		if k == wrong {
			object = !object
		}
		if object {
			b.WriteString(" }")
		} else {
			b.WriteString("]")
		}
	}
	return b.String()
}

// TestNoAlloc: Valid allocates nothing; AppendCompact nothing when dst has
// room.
func TestNoAlloc(t *testing.T) {
	in := []byte(" " + benchObject + " ")
	deep := []byte(mixed(1000, -1))
	dst := make([]byte, 0, 2*len(deep))
	allocs := testing.AllocsPerRun(100, func() {
		Valid(in)
		Valid(deep)
		AppendCompact(dst, in)
		AppendCompact(dst, deep)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per run", allocs)
	}
}

// FuzzValid: Valid is json.Valid, and AppendCompact writes what
// json.Compact writes, for every input.
func FuzzValid(f *testing.F) {
	for _, c := range validCases {
		f.Add([]byte(c.in))
	}
	f.Add([]byte(benchObject))
	f.Add([]byte(mixed(70, -1)))
	f.Add([]byte(mixed(70, 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		checkAgainstEncodingJSON(t, b)
	})
}

const benchObject = `{"channel":"user:42","event":"order.shipped","data":{"order":12345,"items":[{"sku":"A-1","qty":2},{"sku":"B-22","qty":1}],"note":"ships \"today\" \u2014 by noon","total":19.99,"tags":["new","fragile"],"express":true,"gift":null,"eta":1.7e9}}`

func BenchmarkValid(b *testing.B) {
	in := []byte(benchObject)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if !Valid(in) {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkEncodingJSONValid(b *testing.B) {
	in := []byte(benchObject)
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if !json.Valid(in) {
			b.Fatal("invalid")
		}
	}
}

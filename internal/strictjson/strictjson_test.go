package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

// target is what the tests decode into; fields lists its members.
type target struct {
	Channel *string         `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
}

func (t *target) fields() []Field {
	return []Field{{Name: "channel", Dst: &t.Channel}, {Name: "event", Dst: &t.Event}, {Name: "data", Dst: &t.Data}}
}

var errMalformed = errors.New("malformed")

func TestDecodeObject(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		allowUnknown bool
		want         error // errMalformed: any error of the decoder
		key          string
	}{
		{"ok", `{"channel":"a","event":"e","data":{"Channel":1,"channel":2}}`, false, nil, ""},
		{"empty", ` { } `, false, nil, ""},
		{"case", `{"channel":"c1","Channel":"user:alice"}`, false, ErrCase, "Channel"},
		{"case only", `{"EVENT":"e"}`, true, ErrCase, "EVENT"},
		{"duplicate", `{"channel":"a","channel":"b"}`, false, ErrDuplicate, "channel"},
		{"escaped duplicate", `{"channel":"a","\u0063hannel":"b"}`, false, ErrDuplicate, "channel"},
		{"duplicate null", `{"data":null,"data":null}`, false, ErrDuplicate, "data"},
		{"kelvin sign, unknown", "{\"\u212aey\":1}", false, ErrUnknown, "\u212aey"},
		{"unknown", `{"x":1}`, false, ErrUnknown, "x"},
		{"unknown allowed", `{"x":1,"y":[1,{"x":2}]}`, true, nil, ""},
		{"unknown duplicate", `{"x":1,"x":2}`, true, ErrDuplicate, "x"},
		{"first error wins", `{"x":1,"channel":"a","channel":"b"}`, false, ErrUnknown, "x"},
		{"wrong type", `{"event":1}`, false, new(json.UnmarshalTypeError), "event"},
		{"wrong type after unknown", `{"y":1,"event":1}`, true, new(json.UnmarshalTypeError), "event"},
		{"array", `[]`, false, ErrNotObject, ""},
		{"nested array", `[{"a":[1]},[]]`, false, ErrNotObject, ""},
		{"null", `null`, false, ErrNotObject, ""},
		{"empty input", ``, false, errMalformed, ""},
		{"truncated", `{"channel":`, false, errMalformed, ""},
		{"malformed after unknown", `{"x":1,"channel":"a",}`, false, errMalformed, ""},
		{"malformed array", `[1,}`, false, errMalformed, ""},
		{"trailing comma", `{"channel":"a",}`, false, errMalformed, ""},
		{"missing colon", `{"channel" "a"}`, false, errMalformed, ""},
		{"name not a string", `{1:2}`, false, errMalformed, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v target
			err := DecodeObject(json.NewDecoder(strings.NewReader(tt.in)), v.fields(), tt.allowUnknown)
			var ke *KeyError
			switch want := tt.want.(type) {
			case nil:
				if err != nil {
					t.Fatalf("err = %v", err)
				}
			case *json.UnmarshalTypeError:
				if !errors.As(err, &want) {
					t.Fatalf("err = %v, want a type error", err)
				}
			default:
				if want == errMalformed && !malformed(err) || want != errMalformed && !errors.Is(err, want) {
					t.Fatalf("err = %v, want %v", err, want)
				}
			}
			if errors.As(err, &ke) != (tt.key != "") || ke != nil && ke.Key != tt.key {
				t.Fatalf("err = %v, want key %q", err, tt.key)
			}
		})
	}
}

func TestDecodeObjectValues(t *testing.T) {
	var v target
	in := `{"event":"e\u0041","channel":null,"data":{"a":[1, 2]}}`
	if err := DecodeObject(json.NewDecoder(strings.NewReader(in)), v.fields(), false); err != nil {
		t.Fatal(err)
	}
	if v.Channel != nil || v.Event != "eA" || string(v.Data) != `{"a":[1, 2]}` {
		t.Fatalf("decoded %+v", v)
	}
}

// TestDecodeObjectGoesOn: after a refused value the decoder reads the
// next one.
func TestDecodeObjectGoesOn(t *testing.T) {
	dec := json.NewDecoder(strings.NewReader(`[[1,{"a":[]}], {"x":{"y":1}}, {"event":"e"}]`))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		t.Fatal(tok, err)
	}
	var v target
	for i, want := range []error{ErrNotObject, ErrUnknown, nil} {
		if err := DecodeObject(dec, v.fields(), false); !errors.Is(err, want) || (err == nil) != (want == nil) {
			t.Fatalf("element %d: err = %v, want %v", i, err, want)
		}
	}
	if v.Event != "e" {
		t.Fatalf("event %q", v.Event)
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim(']') {
		t.Fatal(tok, err)
	}
}

func TestDecodeObjectFieldDecode(t *testing.T) {
	errOdd := errors.New("odd")
	var got []float64
	fields := []Field{{Name: "n", Decode: func(dec *json.Decoder) error {
		var f float64
		if err := dec.Decode(&f); err != nil {
			return err
		}
		got = append(got, f)
		if int(f)%2 == 1 {
			return errOdd
		}
		return nil
	}}}
	if err := DecodeObject(json.NewDecoder(strings.NewReader(`{"n":2}`)), fields, false); err != nil || len(got) != 1 {
		t.Fatalf("err = %v, got %v", err, got)
	}
	err := DecodeObject(json.NewDecoder(strings.NewReader(`{"n":3}`)), fields, false)
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key != "n" || !errors.Is(err, errOdd) {
		t.Fatalf("err = %v", err)
	}
}

// memberNames returns the names of the members of the object in b, in
// order; false when b is not one well-formed object. It is the reference
// the fuzz test holds DecodeObject to.
func memberNames(b []byte) ([]string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, false
		}
		names = append(names, tok.(string))
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return nil, false
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, false
	}
	_, err := dec.Token()
	return names, err == io.EOF
}

// FuzzDecodeObject: DecodeObject accepts exactly the objects whose names
// are known (exactly, or unknown and not folding onto a known one when
// allowed) and unique, decodes them as encoding/json does, and reports
// malformed input as such.
func FuzzDecodeObject(f *testing.F) {
	for _, s := range []string{`{"channel":"a","event":"e"}`, `{"Channel":1}`, `{"a":1,"a":2}`, `{"\u0063hannel":1}`, `{`, `[]`,
		`{"data":[{"x":1}],"y":2}`, `{"event":1}`, `{"channel":null}`, `{"x":1,}`} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, b []byte, allowUnknown bool) {
		var v target
		dec := json.NewDecoder(bytes.NewReader(b))
		err := DecodeObject(dec, v.fields(), allowUnknown)
		if malformed(err) {
			if json.Valid(b) {
				t.Fatalf("%q: valid JSON reported malformed: %v", b, err)
			}
			return
		}
		if prefix := b[:dec.InputOffset()]; !json.Valid(prefix) {
			t.Fatalf("%q: read %q, not valid JSON, and reported %v", b, prefix, err)
		}
		if _, end := dec.Token(); err != nil || end != io.EOF {
			return
		}
		names, ok := memberNames(b)
		if !ok {
			t.Fatalf("%q: accepted what is not one object", b)
		}
		seen := map[string]bool{}
		for _, n := range names {
			known := n == "channel" || n == "event" || n == "data"
			folds := strings.EqualFold(n, "channel") || strings.EqualFold(n, "event") || strings.EqualFold(n, "data")
			if seen[n] || folds && !known || !known && !allowUnknown {
				t.Fatalf("%q: accepted name %q", b, n)
			}
			seen[n] = true
		}
		var want target
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("%q: accepted, encoding/json refused: %v", b, err)
		}
		if !reflect.DeepEqual(v, want) {
			t.Fatalf("%q: decoded %+v, encoding/json %+v", b, v, want)
		}
	})
}

// TestDecodeDeep: nesting past encoding/json's limit is malformed, where
// DecodeObject and DecodeArray skip a value as where they decode one.
func TestDecodeDeep(t *testing.T) {
	deep := strings.Repeat("[", 10001) + strings.Repeat("]", 10001)
	var v target
	for _, in := range []string{`[` + deep + `]`, `{"data":` + deep + `}`, `{"x":` + deep + `}`} {
		if err := DecodeObject(json.NewDecoder(strings.NewReader(in)), v.fields(), true); !malformed(err) {
			t.Errorf("DecodeObject(%.20s…) = %v, want malformed", in, err)
		}
	}
	each := func(dec *json.Decoder) error { return dec.Decode(new(discard)) }
	for _, in := range []string{`{"a":` + deep + `}`, `[` + deep + `]`} {
		if err := DecodeArray(json.NewDecoder(strings.NewReader(in)), each); !malformed(err) {
			t.Errorf("DecodeArray(%.20s…) = %v, want malformed", in, err)
		}
	}
	ok := strings.Repeat("[", 9999) + strings.Repeat("]", 9999)
	if err := DecodeObject(json.NewDecoder(strings.NewReader(`{"data":`+ok+`}`)), v.fields(), false); err != nil {
		t.Errorf("depth 10000: %v", err)
	}
}

func TestDecodeArray(t *testing.T) {
	tests := []struct {
		in   string
		want error
		n    int
	}{
		{`[]`, nil, 0},
		{`null`, nil, 0},
		{` [1, "a", {"b":[2]}] `, nil, 3},
		{`{"a":[1]}`, ErrNotArray, 0},
		{`"s"`, ErrNotArray, 0},
		{`[1,`, errMalformed, 2},
	}
	for _, tt := range tests {
		n := 0
		err := DecodeArray(json.NewDecoder(strings.NewReader(tt.in)), func(dec *json.Decoder) error {
			n++
			return dec.Decode(new(discard))
		})
		if tt.want == errMalformed && !malformed(err) || tt.want != errMalformed && err != tt.want || n != tt.n {
			t.Errorf("DecodeArray(%s) = %v after %d elements, want %v after %d", tt.in, err, n, tt.want, tt.n)
		}
	}
}

// Package strictjson reads outside JSON strictly.
//
// DecodeObject decodes one JSON object from an encoding/json Decoder,
// member by member, in the decoder's own pass, with the rules
// encoding/json does not have: names match exactly (encoding/json matches
// them case-insensitively, so {"channel":"c1","Channel":"user:alice"}
// would decode as user:alice), a name given twice is refused (encoding/json
// lets the last one win), and unknown names are refused unless allowed.
//
// Valid and AppendCompact are json.Valid and json.Compact in one pass
// without a state machine per byte; Members and Elements walk an object or
// an array while checking it as Valid does, for a decoder that takes the
// common case in that one pass and leaves the rest to DecodeObject.
package strictjson

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Sentinel errors a KeyError wraps, ErrNotObject and ErrNotArray.
var (
	// ErrDuplicate: a name appears twice.
	ErrDuplicate = errors.New("duplicate field")
	// ErrCase: a name equals a known name only when case is ignored.
	ErrCase = errors.New("field name differs in case from a known field")
	// ErrUnknown: a name is not known (only when unknown names are refused).
	ErrUnknown = errors.New("unknown field")
	// ErrNotObject: the value is not a JSON object.
	ErrNotObject = errors.New("not a JSON object")
	// ErrNotArray: the value is neither a JSON array nor null.
	ErrNotArray = errors.New("not a JSON array")
)

// KeyError reports the member a check or its value's decoding failed on.
type KeyError struct {
	Key string
	// Err is ErrDuplicate, ErrCase or ErrUnknown, or the error decoding
	// the member's value (a *json.UnmarshalTypeError for a value of the
	// wrong type, or what a Field's Decode returned).
	Err error
}

func (e *KeyError) Error() string { return fmt.Sprintf("%v %q", e.Err, e.Key) }
func (e *KeyError) Unwrap() error { return e.Err }

// Field is one member an object may hold.
type Field struct {
	// Name is the member's name, matched exactly.
	Name string
	// Dst receives the member's value: a pointer that json.Decoder.Decode
	// takes. Ignored when Decode is set.
	Dst any
	// Decode, when set, reads the member's value from the decoder itself:
	// exactly one value, with Token, More and Decode. It returns the
	// decoder's error as it is when the input is malformed (see
	// DecodeObject), any other error when the value was read whole but is
	// not acceptable.
	Decode func(dec *json.Decoder) error
}

// DecodeObject reads the next value from dec, which must be a JSON object,
// and decodes each member named exactly as one of fields into that field.
// A name given twice, a name that equals a field's only when case is
// ignored, and, unless allowUnknown, any other name are refused; a name
// that is allowed but unknown has its value skipped. fields holds at most
// 64 entries.
//
// It reads the whole value even past a refused member, so a malformed
// input wins over a refused member, and then returns:
//   - the decoder's error as it is (a *json.SyntaxError, io.EOF or
//     io.ErrUnexpectedEOF) when the input is malformed: the decoder
//     cannot go on;
//   - ErrNotObject when the value is well-formed but not an object;
//   - a *KeyError for the first member, in input order, that was refused
//     or whose value did not decode;
//   - nil when every member was decoded.
//
// After ErrNotObject and a *KeyError the whole value was read and dec can
// go on to what follows it.
func DecodeObject(dec *json.Decoder, fields []Field, allowUnknown bool) error {
	if len(fields) > 64 {
		panic("strictjson: DecodeObject takes at most 64 fields")
	}
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		if err := skipRest(dec, tok); err != nil {
			return err
		}
		return ErrNotObject
	}
	o := object{fields: fields, allowUnknown: allowUnknown}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := tok.(string) // a member starts with its name, or Token fails
		if err := o.member(dec, name); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		return err
	}
	if o.err != nil {
		return o.err
	}
	return nil
}

// DecodeArray reads the next value from dec, which must be a JSON array or
// null (an array of none), and calls each to read each element: exactly
// one value, with Token, More and Decode. each returns only the decoder's
// errors; what it finds wrong with an element it keeps. DecodeArray
// returns the decoder's error, or what each returned, as it is; else
// ErrNotArray when the value is well-formed but not an array (it was read
// whole); else nil.
func DecodeArray(dec *json.Decoder, each func(dec *json.Decoder) error) error {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return err
	case tok == nil:
		return nil
	case tok != json.Delim('['):
		if err := skipRest(dec, tok); err != nil {
			return err
		}
		return ErrNotArray
	}
	for dec.More() {
		if err := each(dec); err != nil {
			return err
		}
	}
	_, err = dec.Token() // the closing ']'
	return err
}

// object is the state of one DecodeObject call.
type object struct {
	fields       []Field
	allowUnknown bool
	seen         uint64              // bit i: fields[i] was given
	unknown      map[string]struct{} // unknown names given, when allowed
	err          *KeyError           // the first member refused
}

// member reads the value of the member called name. It returns only the
// decoder's errors; a refused member is recorded in o.err.
func (o *object) member(dec *json.Decoder, name string) error {
	i := o.index(name)
	switch {
	case o.err != nil:
	case i >= 0 && o.seen&(1<<i) != 0:
		o.err = &KeyError{Key: name, Err: ErrDuplicate}
	case i >= 0:
		o.seen |= 1 << i
		return o.decode(dec, name, o.fields[i])
	case o.folds(name):
		o.err = &KeyError{Key: name, Err: ErrCase}
	case !o.allowUnknown:
		o.err = &KeyError{Key: name, Err: ErrUnknown}
	case o.repeated(name):
		o.err = &KeyError{Key: name, Err: ErrDuplicate}
	}
	var skip discard
	return dec.Decode(&skip)
}

// decode reads the value of field f into its destination.
func (o *object) decode(dec *json.Decoder, name string, f Field) error {
	var err error
	if f.Decode != nil {
		err = f.Decode(dec)
	} else {
		err = dec.Decode(f.Dst)
	}
	if err == nil || malformed(err) {
		return err
	}
	o.err = &KeyError{Key: name, Err: err}
	return nil
}

// index returns the index of the field called name, or -1.
func (o *object) index(name string) int {
	for i := range o.fields {
		if o.fields[i].Name == name {
			return i
		}
	}
	return -1
}

// folds reports whether name equals a field's name when case is ignored.
func (o *object) folds(name string) bool {
	for i := range o.fields {
		if strings.EqualFold(o.fields[i].Name, name) {
			return true
		}
	}
	return false
}

// repeated records an unknown name and reports whether it was seen before.
func (o *object) repeated(name string) bool {
	if _, ok := o.unknown[name]; ok {
		return true
	}
	if o.unknown == nil {
		o.unknown = make(map[string]struct{})
	}
	o.unknown[name] = struct{}{}
	return false
}

// malformed reports whether err from a json.Decoder says the input is not
// well-formed JSON, after which the decoder cannot go on.
func malformed(err error) bool {
	var se *json.SyntaxError
	return errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// skipRest reads the rest of a value whose first token was tok. Each
// element or member value is read with Decode, whose scanner bounds its
// nesting as encoding/json does.
func skipRest(dec *json.Decoder, tok json.Token) error {
	if tok != json.Delim('[') && tok != json.Delim('{') {
		return nil
	}
	for dec.More() {
		if tok == json.Delim('{') {
			if _, err := dec.Token(); err != nil { // the member's name
				return err
			}
		}
		var skip discard
		if err := dec.Decode(&skip); err != nil {
			return err
		}
	}
	_, err := dec.Token() // the closing ']' or '}'
	return err
}

// discard takes any JSON value and keeps nothing, without copying it.
type discard struct{}

func (*discard) UnmarshalJSON([]byte) error { return nil }

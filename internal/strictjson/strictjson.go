// Package strictjson reads outside JSON strictly and fast.
//
// CheckKeys checks the member names of a JSON object that encoding/json is
// about to decode. encoding/json matches names case-insensitively and lets
// the last of two equal names win, so {"channel":"c1","Channel":"user:alice"}
// decodes as user:alice; a caller that decodes outside bytes runs CheckKeys
// first (or after) and refuses what it reports.
//
// Valid and AppendCompact are json.Valid and json.Compact in one pass
// without a state machine per byte; Members, Fields, Elements and String walk
// valid JSON without decoding it, for decoders that take the common case
// in one pass and leave the rest to encoding/json.
package strictjson

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
)

// Sentinel errors a KeyError wraps.
var (
	// ErrDuplicate: a name appears twice.
	ErrDuplicate = errors.New("duplicate field")
	// ErrCase: a name equals a known name only when case is ignored.
	ErrCase = errors.New("field name differs in case from a known field")
	// ErrUnknown: a name is not known (only when unknown names are refused).
	ErrUnknown = errors.New("unknown field")
	// ErrNotObject: the value is not a well-formed JSON object.
	ErrNotObject = errors.New("not a JSON object")
)

// KeyError reports the member name a check failed on.
type KeyError struct {
	Key string
	Err error // ErrDuplicate, ErrCase or ErrUnknown
}

func (e *KeyError) Error() string { return fmt.Sprintf("%v %q", e.Err, e.Key) }
func (e *KeyError) Unwrap() error { return e.Err }

// Names returns the JSON member names of struct type v's fields, as
// encoding/json sees them (tags, embedded structs), for use as known.
func Names(v any) []string {
	return appendNames(nil, reflect.TypeOf(v))
}

func appendNames(dst []string, t reflect.Type) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		switch {
		case name == "-" && !strings.HasPrefix(tag, "-,"):
		case f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct:
			dst = appendNames(dst, f.Type)
		case !f.IsExported():
		case name == "":
			dst = append(dst, f.Name)
		default:
			dst = append(dst, name)
		}
	}
	return dst
}

// CheckKeys walks the top-level object in b and checks its member names:
// each appears once, and a name that equals a known name ignoring case
// equals it exactly. With allowUnknown false every name must be known.
// Nested values are not looked into. It returns a *KeyError, or
// ErrNotObject when b is not exactly one well-formed object.
func CheckKeys(b []byte, known []string, allowUnknown bool) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return ErrNotObject
	}
	seen := make(map[string]struct{}, len(known))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return ErrNotObject
		}
		key, ok := tok.(string)
		if !ok {
			return ErrNotObject
		}
		if _, dup := seen[key]; dup {
			return &KeyError{Key: key, Err: ErrDuplicate}
		}
		seen[key] = struct{}{}
		if err := checkName(key, known, allowUnknown); err != nil {
			return err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return ErrNotObject
		}
	}
	if tok, err := dec.Token(); err != nil || tok != json.Delim('}') {
		return ErrNotObject
	}
	if _, err := dec.Token(); err != io.EOF {
		return ErrNotObject // trailing data
	}
	return nil
}

// checkName checks one member name against the known ones.
func checkName(key string, known []string, allowUnknown bool) error {
	for _, k := range known {
		if k == key {
			return nil
		}
	}
	for _, k := range known {
		if strings.EqualFold(k, key) {
			return &KeyError{Key: key, Err: ErrCase}
		}
	}
	if !allowUnknown {
		return &KeyError{Key: key, Err: ErrUnknown}
	}
	return nil
}

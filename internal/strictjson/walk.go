package strictjson

import (
	"encoding/json"
	"unicode/utf8"
)

// Members walks the top-level object of b, which must be valid JSON (see
// json.Valid: Members does not check), and calls fn with each member's
// name, unescaped as encoding/json does, and its raw value, in order, until fn returns false. It
// reports whether b is an object and fn never returned false. It makes one
// pass over b and allocates only for a name that holds an escape.
func Members(b []byte, fn func(name, value []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return true
	}
	for i < len(b) && b[i] == '"' {
		end := skipString(b, i)
		name := b[i+1 : end-1]
		if hasEscape(name) || !utf8.Valid(name) {
			var s string
			if json.Unmarshal(b[i:end], &s) != nil {
				return false
			}
			name = []byte(s)
		}
		i = skipSpace(b, end)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		end = skipValue(b, i)
		if end <= i || !fn(name, b[i:end]) {
			return false
		}
		var done, ok bool
		if i, done, ok = after(b, end, '}'); done || !ok {
			return ok
		}
	}
	return false
}

// Fields is Members for a decoder that knows every name it takes: it calls
// fn with the index in names of each member's name and the member's raw
// value. It reports false, calling fn no further, at a name that is not in
// names exactly (case matters) or that appears a second time, and when fn
// returns false. names holds at most 64 names.
func Fields(b []byte, names []string, fn func(i int, value []byte) bool) bool {
	if len(names) > 64 {
		panic("strictjson: Fields takes at most 64 names")
	}
	var seen uint64
	return Members(b, func(name, value []byte) bool {
		for i, n := range names {
			if string(name) == n {
				if seen&(1<<i) != 0 {
					return false
				}
				seen |= 1 << i
				return fn(i, value)
			}
		}
		return false
	})
}

// Elements walks the top-level array of b, which must be valid JSON, and
// calls fn with each element's raw value, in order, until fn returns false.
// It reports whether b is an array and fn never returned false.
func Elements(b []byte, fn func(value []byte) bool) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		return true
	}
	for i < len(b) {
		end := skipValue(b, i)
		if end <= i || !fn(b[i:end]) {
			return false
		}
		var done, ok bool
		if i, done, ok = after(b, end, ']'); done || !ok {
			return ok
		}
	}
	return false
}

// after reads what follows a member or element that ends at b[i]: the
// container's close (done) or a ',' (next is where the next one starts);
// ok is false for anything else.
func after(b []byte, i int, close byte) (next int, done, ok bool) {
	i = skipSpace(b, i)
	switch {
	case i >= len(b):
		return i, false, false
	case b[i] == close:
		return i + 1, true, true
	case b[i] == ',':
		return skipSpace(b, i+1), false, true
	}
	return i, false, false
}

// String returns the string that value, valid JSON, holds, as
// encoding/json decodes it (invalid UTF-8 becomes U+FFFD); false when it
// is not a string. It allocates only the result.
func String(value []byte) (string, bool) {
	if len(value) < 2 || value[0] != '"' {
		return "", false
	}
	if inner := value[1 : len(value)-1]; !hasEscape(inner) && utf8.Valid(inner) {
		return string(inner), true
	}
	var s string
	if json.Unmarshal(value, &s) != nil {
		return "", false
	}
	return s, true
}

func hasEscape(s []byte) bool {
	for _, c := range s {
		if c == '\\' {
			return true
		}
	}
	return false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipString returns the index after the string that starts at b[i] ('"').
func skipString(b []byte, i int) int {
	for i++; i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			return i + 1
		}
	}
	return len(b)
}

// skipValue returns the index after the value that starts at b[i].
func skipValue(b []byte, i int) int {
	if i >= len(b) {
		return i
	}
	switch b[i] {
	case '"':
		return skipString(b, i)
	case '{', '[':
		depth := 0
		for i < len(b) {
			switch b[i] {
			case '"':
				i = skipString(b, i)
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return i + 1
				}
			}
			i++
		}
		return len(b)
	}
	for i < len(b) {
		switch b[i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return i
		}
		i++
	}
	return i
}

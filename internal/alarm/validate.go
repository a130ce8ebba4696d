package alarm

import (
	"errors"
	"unicode"
	"unicode/utf8"
)

// Limits of names, as the protocol states them.
const (
	MaxChannelLen = 128
	MaxEventLen   = 128
	MaxIdemKeyLen = 128
	// BroadcastChannel is granted to every connection.
	BroadcastChannel = "broadcast"
)

// Sentinel validation errors; callers map them to error codes.
var (
	ErrInvalidChannel = errors.New("alarm: invalid channel")
	ErrInvalidEvent   = errors.New("alarm: invalid event")
	ErrInvalidIdemKey = errors.New("alarm: invalid idempotency key")
)

// ValidChannel reports whether s matches ^[A-Za-z0-9_.:@-]{1,128}$.
func ValidChannel(s string) bool {
	if len(s) == 0 || len(s) > MaxChannelLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case c == '_', c == '.', c == ':', c == '@', c == '-':
		default:
			return false
		}
	}
	return true
}

// ValidEvent reports whether s is 1..128 characters of valid UTF-8, none
// of them invisible or able to reorder or break a line of text where it is
// shown (see eventRune).
func ValidEvent(s string) bool {
	if len(s) == 0 || !utf8.ValidString(s) {
		return false
	}
	n := 0
	for _, r := range s {
		if !eventRune(r) {
			return false
		}
		n++
	}
	return n <= MaxEventLen
}

// eventRune reports whether r may appear in an event. Refused: control
// characters (C0, DEL, C1 such as U+0085 NEXT LINE), format characters
// (the bidi overrides and isolates U+202A..U+202E, U+2066..U+2069, marks
// such as U+200E/U+200F, zero-width spaces, U+FEFF), the line and
// paragraph separators U+2028/U+2029, and noncharacters. U+200D ZERO
// WIDTH JOINER stays allowed: emoji sequences need it.
func eventRune(r rune) bool {
	switch {
	case r == 0x200D:
		return true
	case unicode.Is(unicode.Cc, r), unicode.Is(unicode.Cf, r),
		unicode.Is(unicode.Zl, r), unicode.Is(unicode.Zp, r):
		return false
	case r >= 0xFDD0 && r <= 0xFDEF, r&0xFFFE == 0xFFFE:
		return false
	}
	return true
}

// ValidIdemKey reports whether s is 1..128 printable ASCII characters.
func ValidIdemKey(s string) bool {
	if len(s) == 0 || len(s) > MaxIdemKeyLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

package alarm

import (
	"errors"
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

// ValidEvent reports whether s is 1..128 characters of valid UTF-8 without
// control characters.
func ValidEvent(s string) bool {
	if len(s) == 0 || !utf8.ValidString(s) {
		return false
	}
	n := 0
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return false
		}
		n++
	}
	return n <= MaxEventLen
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

package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"strings"
)

// MinAPIKeyLen is the shortest API key a deployment with a real Redis
// accepts (cmd/gateway enforces it; the embedded demo generates longer
// ones).
const MinAPIKeyLen = 16

// ErrNoKeys reports a key set that is empty or holds an empty key.
var ErrNoKeys = errors.New("auth: at least one non-empty API key is required")

// Keys checks publish API keys in constant time. It stores only the SHA-256
// of each configured key and is safe for concurrent use (read-only after
// NewKeys).
type Keys struct {
	sums [][sha256.Size]byte
}

// NewKeys hashes the configured keys. It fails with ErrNoKeys when keys is
// empty or any key is empty.
func NewKeys(keys []string) (*Keys, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	k := &Keys{sums: make([][sha256.Size]byte, 0, len(keys))}
	for _, key := range keys {
		if key == "" {
			return nil, ErrNoKeys
		}
		k.sums = append(k.sums, sha256.Sum256([]byte(key)))
	}
	return k, nil
}

// Check reports whether presented is one of the configured keys. It hashes
// presented and compares the digest with every configured digest, without
// an early exit, so its timing depends on neither the key nor which
// configured key matched.
func (k *Keys) Check(presented string) bool {
	_, ok := k.Match(presented)
	return ok
}

// Match is Check that also returns the key's SHA-256 digest, which names
// the key (for per-key limits) without keeping it.
func (k *Keys) Match(presented string) (sum [sha256.Size]byte, ok bool) {
	if k == nil {
		return sum, false
	}
	sum = sha256.Sum256([]byte(presented))
	match := 0
	for i := range k.sums {
		match |= subtle.ConstantTimeCompare(sum[:], k.sums[i][:])
	}
	return sum, match == 1 && presented != ""
}

// BearerToken extracts the token from an Authorization header value of the
// form "Bearer <token>". The scheme is matched case-insensitively; ok is
// false when the scheme is different or the token is empty.
func BearerToken(header string) (string, bool) {
	const scheme = "bearer"
	header = strings.TrimSpace(header)
	if len(header) <= len(scheme) || !strings.EqualFold(header[:len(scheme)], scheme) {
		return "", false
	}
	rest := header[len(scheme):]
	if rest[0] != ' ' && rest[0] != '\t' {
		return "", false
	}
	token := strings.TrimSpace(rest)
	if token == "" || strings.ContainsAny(token, " \t") {
		return "", false
	}
	return token, true
}

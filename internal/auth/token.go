package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alarmgate/alarmgate/internal/alarm"
)

// Limits on client tokens.
const (
	// MinSecretLen is the shortest accepted HS256 secret, in bytes.
	MinSecretLen = 16
	// MaxChannels is the most extra channels one token may grant.
	MaxChannels = 64
	// MaxTokenLen bounds the token text Verify is willing to parse.
	MaxTokenLen = 16 << 10
)

// Sentinel errors of Verify. A failed Verify wraps exactly one of them.
var (
	// ErrInvalidToken reports a token that is malformed, not signed with the
	// gateway's secret using HS256, or carries invalid claims.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrTokenExpired reports a well-signed token whose exp has passed.
	ErrTokenExpired = errors.New("auth: token expired")
)

// Claims is what a verified token grants.
type Claims struct {
	Subject  string
	Channels []string  // extra channels, as listed in the token
	Expires  time.Time // zero if the token has no exp
}

// AllChannels returns the granted channels: "user:"+Subject, the extra
// Channels and "broadcast", de-duplicated, in that order.
func (c Claims) AllChannels() []string {
	out := make([]string, 0, len(c.Channels)+2)
	seen := make(map[string]struct{}, len(c.Channels)+2)
	add := func(ch string) {
		if _, ok := seen[ch]; ok {
			return
		}
		seen[ch] = struct{}{}
		out = append(out, ch)
	}
	add("user:" + c.Subject)
	for _, ch := range c.Channels {
		add(ch)
	}
	add(alarm.BroadcastChannel)
	return out
}

// VerifierConfig configures a Verifier.
type VerifierConfig struct {
	// Secret is the HS256 key; required, at least MinSecretLen bytes.
	Secret []byte
	// Leeway is the clock skew tolerated on exp (and nbf); default 0.
	Leeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier checks and issues client tokens. It is safe for concurrent use.
type Verifier struct {
	secret []byte
	now    func() time.Time
	parser *jwt.Parser
}

// tokenClaims is the JSON shape of a token's claims.
type tokenClaims struct {
	Channels []string `json:"channels,omitempty"`
	jwt.RegisteredClaims
}

// NewVerifier validates cfg and applies its defaults.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if len(cfg.Secret) < MinSecretLen {
		return nil, fmt.Errorf("auth: JWT secret must be at least %d bytes", MinSecretLen)
	}
	if cfg.Leeway < 0 {
		return nil, errors.New("auth: negative leeway")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{secret: append([]byte(nil), cfg.Secret...), now: cfg.Now}
	v.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
	)
	return v, nil
}

// Verify parses and checks an HS256 token signed with the secret. It
// requires a non-empty sub whose "user:"+sub is a valid channel, accepts an
// optional channels array of at most MaxChannels valid channel names, and
// honours exp when present. Errors wrap ErrInvalidToken (with a reason that
// never quotes the token) or ErrTokenExpired.
func (v *Verifier) Verify(token string) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrInvalidToken)
	}
	if len(token) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: too long", ErrInvalidToken)
	}
	var tc tokenClaims
	_, err := v.parser.ParseWithClaims(token, &tc, v.key)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrTokenExpired
	case err != nil:
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return tc.claims()
}

// key hands the secret to the parser, re-checking the method so that no
// other algorithm can ever be verified with it.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if t.Method != jwt.SigningMethodHS256 {
		return nil, errors.New("unexpected signing method")
	}
	return v.secret, nil
}

// claims checks the application claims and converts them.
func (tc *tokenClaims) claims() (Claims, error) {
	if tc.Subject == "" {
		return Claims{}, fmt.Errorf("%w: missing sub", ErrInvalidToken)
	}
	if !alarm.ValidChannel("user:" + tc.Subject) {
		return Claims{}, fmt.Errorf("%w: sub is not a valid channel name", ErrInvalidToken)
	}
	if len(tc.Channels) > MaxChannels {
		return Claims{}, fmt.Errorf("%w: more than %d channels", ErrInvalidToken, MaxChannels)
	}
	for _, ch := range tc.Channels {
		if !alarm.ValidChannel(ch) {
			return Claims{}, fmt.Errorf("%w: invalid channel name in channels", ErrInvalidToken)
		}
	}
	c := Claims{Subject: tc.Subject, Channels: tc.Channels}
	if tc.ExpiresAt != nil {
		c.Expires = tc.ExpiresAt.Time
	}
	return c, nil
}

// Issue signs a token for sub granting channels (omitted when empty), with
// iat = now and exp = now+ttl; ttl == 0 issues a token without exp. It
// checks the claims as Verify would, so it never issues a token Verify
// rejects (other than by expiry).
func (v *Verifier) Issue(sub string, channels []string, ttl time.Duration) (string, error) {
	if ttl < 0 {
		return "", errors.New("auth: negative token ttl")
	}
	now := v.now()
	tc := tokenClaims{
		Channels: channels,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:  sub,
			IssuedAt: jwt.NewNumericDate(now),
		},
	}
	if ttl > 0 {
		tc.ExpiresAt = jwt.NewNumericDate(now.Add(ttl))
	}
	if _, err := tc.claims(); err != nil {
		return "", fmt.Errorf("auth: issue: %w", err)
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc).SignedString(v.secret)
	if err != nil {
		return "", fmt.Errorf("auth: sign: %w", err)
	}
	return s, nil
}

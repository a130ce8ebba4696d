package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/defaults"
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

// Inbox returns the client's own channel, its inbox: "user:"+Subject.
func (c Claims) Inbox() string { return "user:" + c.Subject }

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
	add(c.Inbox())
	for _, ch := range c.Channels {
		add(ch)
	}
	add(alarm.BroadcastChannel)
	return out
}

// DefaultIssuedAtLeeway is how far in the future a token's iat may be
// (clock skew between the issuer and this node).
const DefaultIssuedAtLeeway = 30 * time.Second

// VerifierConfig configures a Verifier. At least one of Secret and JWKS
// is required; with both, HS256 tokens are checked with Secret and
// RS256, ES256 and EdDSA tokens with the key set.
type VerifierConfig struct {
	// Secret is the HS256 key, at least MinSecretLen bytes. Optional when
	// JWKS is set; Issue needs it.
	Secret []byte
	// JWKS is the identity provider's key set, for RS256, ES256 and EdDSA
	// tokens carrying a kid. Optional.
	JWKS *JWKS
	// Audience, when set, must be one of a token's aud values.
	Audience string
	// Issuer, when set, must equal a token's iss.
	Issuer string
	// Leeway is the clock skew tolerated on exp (and nbf); default 0.
	Leeway time.Duration
	// IssuedAtLeeway is how far in the future an iat may lie; a token
	// issued later is refused. Default DefaultIssuedAtLeeway.
	IssuedAtLeeway time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Verifier checks and issues client tokens. It is safe for concurrent use.
type Verifier struct {
	secret    []byte
	jwks      *JWKS
	iatLeeway time.Duration
	now       func() time.Time
	parser    *jwt.Parser
}

// tokenClaims is the JSON shape of a token's claims.
type tokenClaims struct {
	Channels []string `json:"channels,omitempty"`
	jwt.RegisteredClaims
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c VerifierConfig) Validate() error {
	var secret error
	if c.JWKS == nil || len(c.Secret) > 0 {
		secret = checkSecret("Secret", c.Secret)
	}
	return errors.Join(secret,
		defaults.NonNegative("Leeway", c.Leeway),
		defaults.NonNegative("IssuedAtLeeway", c.IssuedAtLeeway),
	)
}

// checkSecret refuses an HS256 secret shorter than MinSecretLen.
func checkSecret(field string, secret []byte) error {
	if len(secret) >= MinSecretLen {
		return nil
	}
	return defaults.Errorf(field, "must be at least %d bytes (got %d)", MinSecretLen, len(secret))
}

// NewVerifier validates cfg and applies its defaults.
func NewVerifier(cfg VerifierConfig) (*Verifier, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: invalid verifier config: %w", err)
	}
	defaults.Set(&cfg.IssuedAtLeeway, DefaultIssuedAtLeeway)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	v := &Verifier{jwks: cfg.JWKS, iatLeeway: cfg.IssuedAtLeeway, now: cfg.Now}
	var methods []string
	if len(cfg.Secret) > 0 {
		v.secret = append([]byte(nil), cfg.Secret...)
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKS != nil {
		methods = append(methods, jwt.SigningMethodRS256.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodEdDSA.Alg())
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(methods), jwt.WithLeeway(cfg.Leeway), jwt.WithTimeFunc(cfg.Now)}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}
	v.parser = jwt.NewParser(opts...)
	return v, nil
}

// Verify parses and checks an HS256 token signed with the secret, or an
// RS256, ES256 or EdDSA token signed by a key of the key set, with the
// configured aud and iss, and an iat not in the future. It
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
	if tc.IssuedAt != nil && tc.IssuedAt.After(v.now().Add(v.iatLeeway)) {
		return Claims{}, fmt.Errorf("%w: issued in the future", ErrInvalidToken)
	}
	return tc.claims()
}

// key hands the parser the key for the token's method, re-checking the
// method so that no key is ever used with another algorithm: the secret
// only for HS256, a key set key only for its own algorithm and kid.
func (v *Verifier) key(t *jwt.Token) (any, error) {
	if t.Method == jwt.SigningMethodHS256 && v.secret != nil {
		return v.secret, nil
	}
	alg := t.Method.Alg()
	if v.jwks == nil || (alg != "RS256" && alg != "ES256" && alg != "EdDSA") {
		return nil, errors.New("unexpected signing method")
	}
	kid, _ := t.Header["kid"].(string)
	if kid == "" {
		return nil, errors.New("no kid")
	}
	// The parser's Keyfunc has no context: the fetch is bounded by the
	// key set's own timeout.
	return v.jwks.Key(context.Background(), kid, alg)
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
	if v.secret == nil {
		return "", errors.New("auth: issue: no HS256 secret configured")
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

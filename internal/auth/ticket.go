package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// DefaultTicketTTL is how long an SSE ticket is accepted.
const DefaultTicketTTL = 30 * time.Second

// ticketAudience marks a ticket's claims; a client token has none.
const ticketAudience = "alarmgate-sse"

// ticketKeyLabel derives the ticket key from the JWT secret, so a ticket
// never verifies as a client token, nor a client token as a ticket.
const ticketKeyLabel = "alarmgate sse ticket v1"

// TicketConfig configures Tickets.
type TicketConfig struct {
	// Secret is the client JWT secret; the ticket key is derived from it.
	// Required, at least MinSecretLen bytes.
	Secret []byte
	// TTL is how long a ticket is accepted (exp has second precision).
	// Default DefaultTicketTTL.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// Tickets issues and checks the short-lived tickets that authenticate an
// EventSource, which cannot send an Authorization header: a client trades
// its JWT for a ticket (POST /v1/sse/ticket) and puts the ticket in the
// stream's URL. A ticket is an HS256 JWT signed with a key derived from
// the JWT secret; it binds the token's sub and channels, expires after TTL,
// and carries the token's own expiry, at which the stream ends. It is not
// single-use: within its TTL it can be presented again (see
// docs/protocol.md for the trade-off). Tickets is safe for concurrent use.
type Tickets struct {
	key    []byte
	ttl    time.Duration
	now    func() time.Time
	parser *jwt.Parser
}

// ticketClaims is the JSON shape of a ticket.
type ticketClaims struct {
	Channels    []string `json:"channels,omitempty"`
	TokenExpiry int64    `json:"texp,omitempty"` // the client token's exp, unix seconds
	jwt.RegisteredClaims
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined. A ticket's
// exp has second precision, so a TTL under a second is refused.
func (c TicketConfig) Validate() error {
	return errors.Join(
		checkSecret("Secret", c.Secret),
		defaults.Min("TTL", c.TTL, time.Second),
	)
}

// NewTickets validates cfg and applies its defaults.
func NewTickets(cfg TicketConfig) (*Tickets, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: invalid ticket config: %w", err)
	}
	defaults.Set(&cfg.TTL, DefaultTicketTTL)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	mac := hmac.New(sha256.New, cfg.Secret)
	mac.Write([]byte(ticketKeyLabel))
	return &Tickets{
		key: mac.Sum(nil), ttl: cfg.TTL, now: cfg.Now,
		parser: jwt.NewParser(
			jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
			jwt.WithAudience(ticketAudience),
			jwt.WithExpirationRequired(),
			jwt.WithTimeFunc(cfg.Now),
		),
	}, nil
}

// TTL returns how long a ticket is accepted.
func (t *Tickets) TTL() time.Duration { return t.ttl }

// Issue returns a ticket for what c grants and when it stops being
// accepted: after TTL, or at the token's expiry if that comes first.
func (t *Tickets) Issue(c Claims) (string, time.Time, error) {
	now := t.now()
	exp := now.Add(t.ttl)
	if !c.Expires.IsZero() && c.Expires.Before(exp) {
		exp = c.Expires
	}
	tc := ticketClaims{
		Channels: c.Channels,
		RegisteredClaims: jwt.RegisteredClaims{
			Subject: c.Subject, Audience: jwt.ClaimStrings{ticketAudience},
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
	if !c.Expires.IsZero() {
		tc.TokenExpiry = c.Expires.Unix()
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, tc).SignedString(t.key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("auth: sign ticket: %w", err)
	}
	return s, exp, nil
}

// Verify checks a ticket and returns the claims of the token it was issued
// for (Expires is the token's expiry, zero when it had none). Errors wrap
// ErrInvalidToken or ErrTokenExpired.
func (t *Tickets) Verify(ticket string) (Claims, error) {
	if ticket == "" {
		return Claims{}, fmt.Errorf("%w: empty ticket", ErrInvalidToken)
	}
	if len(ticket) > MaxTokenLen {
		return Claims{}, fmt.Errorf("%w: ticket too long", ErrInvalidToken)
	}
	var tc ticketClaims
	_, err := t.parser.ParseWithClaims(ticket, &tc, func(tok *jwt.Token) (any, error) {
		if tok.Method != jwt.SigningMethodHS256 {
			return nil, errors.New("unexpected signing method")
		}
		return t.key, nil
	})
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Claims{}, ErrTokenExpired
	case err != nil:
		return Claims{}, fmt.Errorf("%w: ticket: %w", ErrInvalidToken, err)
	}
	inner := tokenClaims{Channels: tc.Channels, RegisteredClaims: jwt.RegisteredClaims{Subject: tc.Subject}}
	c, err := inner.claims()
	if err != nil {
		return Claims{}, err
	}
	if tc.TokenExpiry != 0 {
		c.Expires = time.Unix(tc.TokenExpiry, 0)
	}
	return c, nil
}

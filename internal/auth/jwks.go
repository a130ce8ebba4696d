package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// Defaults applied by NewJWKS to zero JWKSConfig fields.
const (
	DefaultJWKSTimeout    = 5 * time.Second
	DefaultJWKSMinRefresh = 10 * time.Second
	DefaultJWKSMaxAge     = time.Hour
	// MaxJWKSBytes bounds a key set document.
	MaxJWKSBytes = 1 << 20
)

// Sentinel errors of the key set.
var (
	// ErrUnknownKey reports a kid the key set does not hold, even after a
	// refresh (or when a refresh was not allowed yet).
	ErrUnknownKey = errors.New("auth: unknown signing key")
	// ErrJWKSFetch reports a key set that could not be fetched or parsed.
	ErrJWKSFetch = errors.New("auth: fetching the key set failed")
)

// JWKSConfig configures a JWKS key set.
type JWKSConfig struct {
	// URL is where the key set is served. Required; https, or http to a
	// loopback host (for tests).
	URL string
	// Timeout bounds one fetch, connection to body. Default 5s.
	Timeout time.Duration
	// MinRefresh is the least time between two fetches, so a storm of
	// tokens with unknown kids costs at most one fetch per MinRefresh.
	// Default 10s.
	MinRefresh time.Duration
	// MaxAge is how long a fetched set is used before the next lookup
	// refreshes it (keeping the old keys if the refresh fails). Default 1h.
	MaxAge time.Duration
	// Client makes the requests. Default: a client with no redirects to
	// other hosts and Timeout.
	Client *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
}

// jwk is the JSON shape of one key (RFC 7517, 7518, 8037).
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// publicKey is one usable key and the algorithm family it verifies.
type publicKey struct {
	alg string // RS256, ES256 or EdDSA
	key crypto.PublicKey
}

// JWKS is a cached remote key set. Key is safe for concurrent use; at
// most one fetch runs at a time (fetchMu), and callers that need a key
// during a fetch wait for it.
type JWKS struct {
	cfg   JWKSConfig
	log   *slog.Logger
	shown string // cfg.URL with its password redacted, for logs

	fetchMu sync.Mutex // held for the duration of a fetch; serialises them

	mu        sync.Mutex           // guards the fields below
	keys      map[string]publicKey // guarded by mu; by kid
	fetched   time.Time            // guarded by mu; time of the last successful fetch
	attempted time.Time            // guarded by mu; time of the last fetch attempt
}

// Validate checks every field (zero fields stand for their defaults) and
// returns one *defaults.FieldError per refused field, joined.
func (c JWKSConfig) Validate() error {
	var u error
	if err := checkJWKSURL(c.URL); err != nil {
		u = defaults.Errorf("URL", "%v", err)
	}
	return errors.Join(u,
		defaults.Min("Timeout", c.Timeout, time.Millisecond),
		defaults.NonNegative("MinRefresh", c.MinRefresh),
		defaults.Min("MaxAge", c.MaxAge, time.Second),
	)
}

// NewJWKS validates cfg. It does not fetch; the first Key does (or call
// Refresh at start).
func NewJWKS(cfg JWKSConfig, log *slog.Logger) (*JWKS, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("auth: invalid key set config: %w", err)
	}
	defaults.Set(&cfg.Timeout, DefaultJWKSTimeout)
	defaults.Set(&cfg.MinRefresh, DefaultJWKSMinRefresh)
	defaults.Set(&cfg.MaxAge, DefaultJWKSMaxAge)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: cfg.Timeout, CheckRedirect: sameHostRedirect}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &JWKS{cfg: cfg, log: log, shown: redactURL(cfg.URL), keys: map[string]publicKey{}}, nil
}

// maxJWKSRedirects bounds the redirects a key set fetch follows.
const maxJWKSRedirects = 3

// sameHostRedirect lets the key set's URL redirect within its own host
// (and port) only: a redirect must not turn the fetch toward another
// server, which checkJWKSURL never approved.
func sameHostRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxJWKSRedirects {
		return fmt.Errorf("auth: jwks: more than %d redirects", maxJWKSRedirects)
	}
	if req.URL.Host != via[0].URL.Host || req.URL.Scheme != via[0].URL.Scheme {
		return fmt.Errorf("auth: jwks: redirect to %s://%s refused (another host)", req.URL.Scheme, req.URL.Host)
	}
	return nil
}

// redactURL returns raw with its password replaced by "xxxxx", for logs
// and errors; a raw URL that does not parse is not shown at all.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(not shown: it does not parse)"
	}
	return u.Redacted()
}

// checkJWKSURL requires https, or http to a loopback host. Its errors show
// the URL without its password.
func checkJWKSURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("not an absolute URL (it does not parse; not shown, it may hold a password)")
	}
	if u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", u.Redacted())
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if IsLoopbackHost(u.Hostname()) {
			return nil
		}
	}
	return fmt.Errorf("%q must use https (plain http only to a loopback host)", u.Redacted())
}

// Key returns the key for kid that verifies alg. An unknown kid, or a set
// older than MaxAge, triggers a refresh unless one was attempted less than
// MinRefresh ago.
func (j *JWKS) Key(ctx context.Context, kid, alg string) (crypto.PublicKey, error) {
	k, ok, stale := j.lookup(kid)
	if !ok || stale {
		if err := j.refresh(ctx, false); err != nil && !ok {
			return nil, err
		}
		k, ok, _ = j.lookup(kid)
	}
	if !ok {
		return nil, fmt.Errorf("%w: kid %q", ErrUnknownKey, kid)
	}
	if k.alg != alg {
		return nil, fmt.Errorf("%w: kid %q is not a %s key", ErrUnknownKey, kid, alg)
	}
	return k.key, nil
}

func (j *JWKS) lookup(kid string) (k publicKey, ok, stale bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	k, ok = j.keys[kid]
	return k, ok, j.cfg.Now().Sub(j.fetched) > j.cfg.MaxAge
}

// Refresh fetches the set now, ignoring MinRefresh. On failure the keys
// already held are kept.
func (j *JWKS) Refresh(ctx context.Context) error { return j.refresh(ctx, true) }

func (j *JWKS) refresh(ctx context.Context, force bool) error {
	j.mu.Lock()
	last := j.attempted
	j.mu.Unlock()
	j.fetchMu.Lock()
	defer j.fetchMu.Unlock()
	j.mu.Lock()
	if j.attempted != last { // another caller fetched while this one waited
		j.mu.Unlock()
		return nil
	}
	if !force && !j.attempted.IsZero() && j.cfg.Now().Sub(j.attempted) < j.cfg.MinRefresh {
		j.mu.Unlock()
		return fmt.Errorf("%w: refresh rate-limited", ErrUnknownKey)
	}
	j.attempted = j.cfg.Now()
	j.mu.Unlock()

	keys, err := j.fetch(ctx)
	if err != nil {
		j.log.Warn("auth: JWKS refresh failed; keeping the keys held", "url", j.shown, "err", err)
		return err
	}
	j.mu.Lock()
	j.keys, j.fetched = keys, j.cfg.Now()
	j.mu.Unlock()
	j.log.Info("auth: JWKS refreshed", "url", j.shown, "keys", len(keys))
	return nil
}

// fetch downloads and parses the set within Timeout.
func (j *JWKS) fetch(ctx context.Context) (map[string]publicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, j.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.cfg.URL, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKSFetch, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := j.cfg.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKSFetch, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %d", ErrJWKSFetch, resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKSFetch, err)
	}
	if len(body) > MaxJWKSBytes {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrJWKSFetch, MaxJWKSBytes)
	}
	return parseJWKS(body)
}

// parseJWKS parses a key set document ({"keys":[...]}). It keeps the
// signature keys it can use (RSA, EC P-256, OKP Ed25519) that have a kid,
// and skips others (encryption keys, other curves) without failing.
func parseJWKS(doc []byte) (map[string]publicKey, error) {
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrJWKSFetch, err)
	}
	out := make(map[string]publicKey, len(set.Keys))
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		pk, err := k.publicKey()
		if err != nil {
			continue // an unusable key must not hide the usable ones
		}
		out[k.Kid] = pk
	}
	return out, nil
}

// publicKey converts k, refusing a declared alg that does not match its type.
func (k jwk) publicKey() (publicKey, error) {
	var pk publicKey
	var err error
	switch k.Kty {
	case "RSA":
		pk.alg = "RS256"
		pk.key, err = k.rsa()
	case "EC":
		pk.alg = "ES256"
		pk.key, err = k.ecdsa()
	case "OKP":
		pk.alg = "EdDSA"
		pk.key, err = k.ed25519()
	default:
		return pk, fmt.Errorf("unsupported kty %q", k.Kty)
	}
	if err == nil && k.Alg != "" && k.Alg != pk.alg {
		err = fmt.Errorf("alg %q not supported", k.Alg)
	}
	return pk, err
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func (k jwk) rsa() (*rsa.PublicKey, error) {
	n, err1 := b64(k.N)
	e, err2 := b64(k.E)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if len(n) < 2048/8 || len(e) == 0 || len(e) > 4 {
		return nil, errors.New("RSA key smaller than 2048 bits or bad exponent")
	}
	exp := new(big.Int).SetBytes(e)
	return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(exp.Int64())}, nil
}

func (k jwk) ecdsa() (*ecdsa.PublicKey, error) {
	if k.Crv != "P-256" {
		return nil, fmt.Errorf("unsupported curve %q", k.Crv)
	}
	x, err1 := b64(k.X)
	y, err2 := b64(k.Y)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if len(x) != 32 || len(y) != 32 {
		return nil, errors.New("bad P-256 coordinates")
	}
	// The uncompressed point form lets crypto/ecdsa check the point is on
	// the curve.
	pt := append([]byte{4}, append(x, y...)...)
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pt)
}

func (k jwk) ed25519() (ed25519.PublicKey, error) {
	if k.Crv != "Ed25519" {
		return nil, fmt.Errorf("unsupported curve %q", k.Crv)
	}
	x, err := b64(k.X)
	if err != nil {
		return nil, err
	}
	if len(x) != ed25519.PublicKeySize {
		return nil, errors.New("bad Ed25519 key")
	}
	return ed25519.PublicKey(x), nil
}

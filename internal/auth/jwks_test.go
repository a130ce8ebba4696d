package auth

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// idp is a local identity provider: it serves a JWKS document whose keys
// the test rotates, and counts the fetches.
type idp struct {
	srv     *httptest.Server
	fetches atomic.Int64
	delay   atomic.Int64 // nanoseconds each answer waits

	mu   sync.Mutex
	keys map[string]crypto.Signer // guarded by mu; by kid
}

func newIDP(t *testing.T) *idp {
	t.Helper()
	p := &idp{keys: map[string]crypto.Signer{}}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		if d := time.Duration(p.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(p.document(t))
	}))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *idp) add(kid string, k crypto.Signer) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.keys[kid] = k
}

func (p *idp) remove(kid string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.keys, kid)
}

func (p *idp) document(t *testing.T) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var set struct {
		Keys []map[string]string `json:"keys"`
	}
	enc := base64.RawURLEncoding.EncodeToString
	for kid, k := range p.keys {
		m := map[string]string{"kid": kid, "use": "sig"}
		switch pub := k.Public().(type) {
		case *rsa.PublicKey:
			m["kty"], m["alg"] = "RSA", "RS256"
			m["n"], m["e"] = enc(pub.N.Bytes()), enc(big.NewInt(int64(pub.E)).Bytes())
		case *ecdsa.PublicKey:
			b, err := pub.Bytes()
			if err != nil {
				t.Error(err)
			}
			m["kty"], m["crv"], m["alg"] = "EC", "P-256", "ES256"
			m["x"], m["y"] = enc(b[1:33]), enc(b[33:])
		case ed25519.PublicKey:
			m["kty"], m["crv"], m["alg"] = "OKP", "Ed25519", "EdDSA"
			m["x"] = enc(pub)
		}
		set.Keys = append(set.Keys, m)
	}
	b, _ := json.Marshal(set)
	return b
}

var (
	keysOnce           sync.Once
	rsaKey1, rsaKey2   *rsa.PrivateKey
	ecKey              *ecdsa.PrivateKey
	edKey              ed25519.PrivateKey
	errGenerateTestKey error
)

// testKeys generates the keys once per test binary (RSA is slow).
func testKeys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		var e1, e2, e3, e4 error
		rsaKey1, e1 = rsa.GenerateKey(rand.Reader, 2048)
		rsaKey2, e2 = rsa.GenerateKey(rand.Reader, 2048)
		ecKey, e3 = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, edKey, e4 = ed25519.GenerateKey(rand.Reader)
		errGenerateTestKey = errors.Join(e1, e2, e3, e4)
	})
	if errGenerateTestKey != nil {
		t.Fatal(errGenerateTestKey)
	}
}

// idpToken signs claims the way a Keycloak or Auth0 tenant does: kid in
// the header, iss, aud, sub, iat, exp in the body.
func idpToken(t *testing.T, m jwt.SigningMethod, kid string, key crypto.Signer, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func idpClaims(now time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://idp.example/realms/ops", "aud": []string{"alarmgate", "account"},
		"sub": "5f1c8a0e-7b1d-4c3e-9a55-0e6b2f7c9d10", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"azp": "web", "scope": "openid profile", "preferred_username": "alice",
	}
}

// jwksVerifier builds a verifier on p's key set with a clock the test moves.
func jwksVerifier(t *testing.T, p *idp, now *atomic.Int64, cfg JWKSConfig, secret []byte) *Verifier {
	t.Helper()
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	cfg.URL, cfg.Now = p.srv.URL, clock
	set, err := NewJWKS(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier(VerifierConfig{Secret: secret, JWKS: set, Audience: "alarmgate",
		Issuer: "https://idp.example/realms/ops", Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestJWKSAlgorithms: an identity provider's RS256, ES256 and EdDSA tokens
// verify unchanged; aud, iss and a future iat are enforced; HS256 keeps
// working beside the key set.
func TestJWKSAlgorithms(t *testing.T) {
	testKeys(t)
	p := newIDP(t)
	p.add("rsa-1", rsaKey1)
	p.add("ec-1", ecKey)
	p.add("ed-1", edKey)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	v := jwksVerifier(t, p, &now, JWKSConfig{}, testSecret)
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := idpClaims(testNow)
		change(c)
		return c
	}
	same := func(jwt.MapClaims) {}
	tests := []struct {
		name  string
		token string
		ok    bool
	}{
		{"RS256", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(same)), true},
		{"ES256", idpToken(t, jwt.SigningMethodES256, "ec-1", ecKey, with(same)), true},
		{"EdDSA", idpToken(t, jwt.SigningMethodEdDSA, "ed-1", edKey, with(same)), true},
		{"aud as a string", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { c["aud"] = "alarmgate" })), true},
		{"channels claim", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { c["channels"] = []string{"ops"} })), true},
		{"iat within leeway", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { c["iat"] = testNow.Add(20 * time.Second).Unix() })), true},
		{"iat in the future", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { c["iat"] = testNow.Add(2 * time.Minute).Unix() })), false},
		{"wrong audience", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { c["aud"] = "other" })), false},
		{"no audience", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { delete(c, "aud") })), false},
		{"wrong issuer", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey1, with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })), false},
		{"key of another kid", idpToken(t, jwt.SigningMethodRS256, "rsa-1", rsaKey2, with(same)), false},
		{"alg not the key's", idpToken(t, jwt.SigningMethodES256, "rsa-1", ecKey, with(same)), false},
		{"no kid", idpToken(t, jwt.SigningMethodRS256, "", rsaKey1, with(same)), false},
		{"RS384 refused", idpToken(t, jwt.SigningMethodRS384, "rsa-1", rsaKey1, with(same)), false},
		{"HS256 with the secret", sign(t, jwt.SigningMethodHS256, testSecret, jwt.MapClaims{"sub": "alice", "aud": "alarmgate", "iss": "https://idp.example/realms/ops"}), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token)
			if tt.ok != (err == nil) {
				t.Fatalf("Verify: %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("error %v does not wrap ErrInvalidToken", err)
			}
			if tt.ok && c.Subject == "" {
				t.Fatal("no subject")
			}
		})
	}
}

// TestJWKSRotation: after the provider adds a key and removes the old one,
// tokens of the new kid verify (one refresh), and tokens of the removed
// kid fail once the cache has been refreshed.
func TestJWKSRotation(t *testing.T) {
	testKeys(t)
	p := newIDP(t)
	p.add("k1", rsaKey1)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	v := jwksVerifier(t, p, &now, JWKSConfig{MinRefresh: 10 * time.Second}, nil)
	old := idpToken(t, jwt.SigningMethodRS256, "k1", rsaKey1, idpClaims(testNow))
	if _, err := v.Verify(old); err != nil {
		t.Fatal(err)
	}
	p.remove("k1")
	p.add("k2", rsaKey2)
	if _, err := v.Verify(old); err != nil {
		t.Fatalf("a cached key stops working before any refresh: %v", err)
	}
	now.Add(int64(11 * time.Second))
	fresh := idpToken(t, jwt.SigningMethodRS256, "k2", rsaKey2, idpClaims(testNow))
	if _, err := v.Verify(fresh); err != nil {
		t.Fatalf("new kid after rotation: %v", err)
	}
	if _, err := v.Verify(old); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("removed kid after refresh: %v, want ErrUnknownKey", err)
	}
	if got := p.fetches.Load(); got != 2 {
		t.Fatalf("%d fetches, want 2 (first use, unknown kid)", got)
	}
}

// TestJWKSUnknownKidStorm: a flood of tokens with unknown kids costs one
// fetch per MinRefresh, concurrent ones included.
func TestJWKSUnknownKidStorm(t *testing.T) {
	testKeys(t)
	p := newIDP(t)
	p.add("k1", ecKey)
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	v := jwksVerifier(t, p, &now, JWKSConfig{MinRefresh: 10 * time.Second}, nil)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			tok := idpToken(t, jwt.SigningMethodES256, "forged-"+string(rune('a'+i%26)), ecKey, idpClaims(testNow))
			if _, err := v.Verify(tok); !errors.Is(err, ErrUnknownKey) {
				t.Errorf("unknown kid: %v", err)
			}
		})
	}
	wg.Wait()
	if got := p.fetches.Load(); got != 1 {
		t.Fatalf("%d fetches during the storm, want 1", got)
	}
	now.Add(int64(10 * time.Second))
	tok := idpToken(t, jwt.SigningMethodES256, "forged-z", ecKey, idpClaims(testNow))
	_, _ = v.Verify(tok)
	_, _ = v.Verify(tok)
	if got := p.fetches.Load(); got != 2 {
		t.Fatalf("%d fetches after MinRefresh, want 2", got)
	}
}

// TestJWKSSlowServer: a key set server that does not answer fails the
// token within Timeout instead of holding the hello.
func TestJWKSSlowServer(t *testing.T) {
	testKeys(t)
	p := newIDP(t)
	p.add("k1", edKey)
	p.delay.Store(int64(5 * time.Second))
	var now atomic.Int64
	now.Store(testNow.UnixNano())
	v := jwksVerifier(t, p, &now, JWKSConfig{Timeout: 200 * time.Millisecond}, nil)
	start := time.Now()
	_, err := v.Verify(idpToken(t, jwt.SigningMethodEdDSA, "k1", edKey, idpClaims(testNow)))
	if !errors.Is(err, ErrJWKSFetch) {
		t.Fatalf("Verify: %v, want ErrJWKSFetch", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Verify took %v with a 200ms timeout", d)
	}
	p.srv.CloseClientConnections()
}

func TestJWKSConfig(t *testing.T) {
	tests := []struct {
		url string
		ok  bool
	}{
		{"https://idp.example/jwks", true},
		{"http://127.0.0.1:9/jwks", true},
		{"http://localhost:9/jwks", true},
		{"http://[::1]:9/jwks", true},
		{"http://idp.example/jwks", false},
		{"ftp://idp.example/jwks", false},
		{"/jwks", false},
		{"", false},
	}
	for _, tt := range tests {
		if _, err := NewJWKS(JWKSConfig{URL: tt.url}, nil); tt.ok != (err == nil) {
			t.Errorf("NewJWKS(%q): %v, want ok=%v", tt.url, err, tt.ok)
		}
	}
	set, _ := NewJWKS(JWKSConfig{URL: "https://idp.example/jwks"}, nil)
	if _, err := NewVerifier(VerifierConfig{JWKS: set}); err != nil {
		t.Errorf("key set without secret: %v", err)
	}
	if _, err := NewVerifier(VerifierConfig{JWKS: set, Secret: []byte("short")}); err == nil {
		t.Error("a short secret beside a key set is accepted")
	}
	v, _ := NewVerifier(VerifierConfig{JWKS: set})
	if _, err := v.Issue("alice", nil, time.Minute); err == nil {
		t.Error("Issue without a secret succeeds")
	}
}

func TestParseJWKSSkipsUnusable(t *testing.T) {
	testKeys(t)
	enc := base64.RawURLEncoding.EncodeToString
	doc, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "enc", "use": "enc", "n": enc(rsaKey1.N.Bytes()), "e": "AQAB"},
		{"kty": "RSA", "kid": "small", "n": enc([]byte{1, 2, 3}), "e": "AQAB"},
		{"kty": "EC", "kid": "p384", "crv": "P-384", "x": "AA", "y": "AA"},
		{"kty": "EC", "kid": "offcurve", "crv": "P-256", "x": enc(make([]byte, 32)), "y": enc(make([]byte, 32))},
		{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		{"kty": "RSA", "kid": "mislabelled", "alg": "ES256", "n": enc(rsaKey1.N.Bytes()), "e": "AQAB"},
		{"kty": "RSA", "kid": "good", "n": enc(rsaKey1.N.Bytes()), "e": "AQAB"},
	}})
	keys, err := parseJWKS(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys["good"].alg != "RS256" {
		t.Fatalf("keys %v, want only good", keys)
	}
	if _, err := parseJWKS([]byte("{")); !errors.Is(err, ErrJWKSFetch) {
		t.Fatalf("bad document: %v", err)
	}
}

// TestJWKSRedirectStaysOnHost: the default client follows a redirect on
// the key set's own host, and refuses one to another host.
func TestJWKSRedirectStaysOnHost(t *testing.T) {
	doc := []byte(`{"keys":[]}`)
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(doc) }))
	t.Cleanup(other.Close)
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, srv.URL+"/keys", http.StatusFound)
		case "/other":
			http.Redirect(w, r, other.URL+"/keys", http.StatusFound)
		default:
			_, _ = w.Write(doc)
		}
	}))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		path string
		ok   bool
	}{{"/same", true}, {"/other", false}} {
		j, err := NewJWKS(JWKSConfig{URL: srv.URL + tt.path}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := j.Refresh(context.Background()); (err == nil) != tt.ok {
			t.Errorf("%s: refresh err = %v, want ok=%v", tt.path, err, tt.ok)
		}
	}
}

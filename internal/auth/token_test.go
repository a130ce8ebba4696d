package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("test-secret-0123456789abcdef")
	testNow    = time.Date(2025, 11, 25, 10, 0, 0, 0, time.UTC)
)

func newTestVerifier(t testing.TB, leeway time.Duration) *Verifier {
	t.Helper()
	v, err := NewVerifier(VerifierConfig{
		Secret: testSecret,
		Leeway: leeway,
		Now:    func() time.Time { return testNow },
	})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// sign builds a token with the given method, key and claims.
func sign(t *testing.T, m jwt.SigningMethod, key any, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNewVerifier(t *testing.T) {
	tests := []struct {
		name string
		cfg  VerifierConfig
		ok   bool
	}{
		{"no secret", VerifierConfig{}, false},
		{"short secret", VerifierConfig{Secret: []byte("0123456789abcde")}, false},
		{"negative leeway", VerifierConfig{Secret: testSecret, Leeway: -time.Second}, false},
		{"minimal", VerifierConfig{Secret: []byte("0123456789abcdef")}, true},
		{"full", VerifierConfig{Secret: testSecret, Leeway: time.Second, Now: time.Now}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewVerifier(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hs := jwt.SigningMethodHS256
	future := testNow.Add(time.Hour).Unix()
	past := testNow.Add(-time.Minute).Unix()
	manyChannels := make([]any, MaxChannels+1)
	for i := range manyChannels {
		manyChannels[i] = "c" + strings.Repeat("x", i%5)
	}
	tests := []struct {
		name    string
		token   string
		leeway  time.Duration
		want    Claims
		wantErr error
	}{
		{name: "valid sub only", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": "42"}),
			want: Claims{Subject: "42"}},
		{name: "valid with channels and exp", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "42", "channels": []string{"team:7", "ops"}, "exp": future}),
			want: Claims{Subject: "42", Channels: []string{"team:7", "ops"}, Expires: time.Unix(future, 0)}},
		{name: "expired within leeway", leeway: 2 * time.Minute,
			token: sign(t, hs, testSecret, jwt.MapClaims{"sub": "42", "exp": past}),
			want:  Claims{Subject: "42", Expires: time.Unix(past, 0)}},
		{name: "exactly 64 channels", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "a", "channels": manyChannels[:MaxChannels]}),
			want: Claims{Subject: "a", Channels: toStrings(manyChannels[:MaxChannels])}},
		{name: "expired", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": "42", "exp": past}),
			wantErr: ErrTokenExpired},
		{name: "wrong secret", token: sign(t, hs, []byte("another-secret-0123456789"), jwt.MapClaims{"sub": "42"}),
			wantErr: ErrInvalidToken},
		{name: "wrong secret and expired", token: sign(t, hs, []byte("another-secret-0123456789"),
			jwt.MapClaims{"sub": "42", "exp": past}), wantErr: ErrInvalidToken},
		{name: "alg none", token: sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType,
			jwt.MapClaims{"sub": "42"}), wantErr: ErrInvalidToken},
		{name: "HS512", token: sign(t, jwt.SigningMethodHS512, testSecret, jwt.MapClaims{"sub": "42"}),
			wantErr: ErrInvalidToken},
		{name: "HS384", token: sign(t, jwt.SigningMethodHS384, testSecret, jwt.MapClaims{"sub": "42"}),
			wantErr: ErrInvalidToken},
		{name: "RS256", token: sign(t, jwt.SigningMethodRS256, rsaKey, jwt.MapClaims{"sub": "42"}),
			wantErr: ErrInvalidToken},
		{name: "ES256", token: sign(t, jwt.SigningMethodES256, ecKey, jwt.MapClaims{"sub": "42"}),
			wantErr: ErrInvalidToken},
		{name: "RS256 header with HMAC signature", token: forgeAlg(t, "RS256", jwt.MapClaims{"sub": "42"}),
			wantErr: ErrInvalidToken},
		{name: "missing sub", token: sign(t, hs, testSecret, jwt.MapClaims{"channels": []string{"ops"}}),
			wantErr: ErrInvalidToken},
		{name: "empty sub", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": ""}),
			wantErr: ErrInvalidToken},
		{name: "sub not a channel", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": "a b"}),
			wantErr: ErrInvalidToken},
		{name: "sub too long", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": strings.Repeat("x", 124)}),
			wantErr: ErrInvalidToken},
		{name: "sub not a string", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": 42}),
			wantErr: ErrInvalidToken},
		{name: "bad channel name", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "42", "channels": []string{"ok", "not ok"}}), wantErr: ErrInvalidToken},
		{name: "empty channel name", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "42", "channels": []string{""}}), wantErr: ErrInvalidToken},
		{name: "channels not an array", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "42", "channels": "ops"}), wantErr: ErrInvalidToken},
		{name: "channels of numbers", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "42", "channels": []int{1}}), wantErr: ErrInvalidToken},
		{name: "too many channels", token: sign(t, hs, testSecret, jwt.MapClaims{
			"sub": "42", "channels": manyChannels}), wantErr: ErrInvalidToken},
		{name: "exp not a number", token: sign(t, hs, testSecret, jwt.MapClaims{"sub": "42", "exp": "soon"}),
			wantErr: ErrInvalidToken},
		{name: "garbage", token: "not.a.token", wantErr: ErrInvalidToken},
		{name: "two segments", token: "abc.def", wantErr: ErrInvalidToken},
		{name: "empty", token: "", wantErr: ErrInvalidToken},
		{name: "too long", token: strings.Repeat("a", MaxTokenLen+1), wantErr: ErrInvalidToken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newTestVerifier(t, tt.leeway).Verify(tt.token)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Verify err = %v, want %v", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), tt.token) && tt.token != "" {
					t.Fatalf("error %q quotes the token", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if got.Subject != tt.want.Subject || !slices.Equal(got.Channels, tt.want.Channels) ||
				!got.Expires.Equal(tt.want.Expires) {
				t.Fatalf("Verify = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func toStrings(in []any) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = v.(string)
	}
	return out
}

// forgeAlg builds a token whose header names alg but whose signature is an
// HMAC-SHA256 with the test secret: the classic algorithm-confusion attack.
func forgeAlg(t *testing.T, alg string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodHS256, claims)
	tok.Header["alg"] = alg
	unsigned, err := tok.SigningString()
	if err != nil {
		t.Fatal(err)
	}
	sig, err := jwt.SigningMethodHS256.Sign(unsigned, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	return unsigned + "." + tok.EncodeSegment(sig)
}

func TestIssueRoundTrip(t *testing.T) {
	v := newTestVerifier(t, 0)
	tests := []struct {
		name     string
		sub      string
		channels []string
		ttl      time.Duration
		wantExp  time.Time
	}{
		{"no exp", "42", nil, 0, time.Time{}},
		{"with exp", "42", []string{"team:7"}, time.Hour, testNow.Add(time.Hour)},
		{"empty channels omitted", "u@example.com", []string{}, time.Minute, testNow.Add(time.Minute)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := v.Issue(tt.sub, tt.channels, tt.ttl)
			if err != nil {
				t.Fatal(err)
			}
			c, err := v.Verify(tok)
			if err != nil {
				t.Fatalf("Verify(Issue()): %v", err)
			}
			if c.Subject != tt.sub || len(c.Channels) != len(tt.channels) || !c.Expires.Equal(tt.wantExp) {
				t.Fatalf("claims = %+v", c)
			}
			var mc jwt.MapClaims
			if _, _, err := jwt.NewParser().ParseUnverified(tok, &mc); err != nil {
				t.Fatal(err)
			}
			if _, ok := mc["iat"]; !ok {
				t.Error("no iat claim")
			}
			if _, ok := mc["channels"]; ok != (len(tt.channels) > 0) {
				t.Errorf("channels present = %v, want %v", ok, len(tt.channels) > 0)
			}
			if _, ok := mc["exp"]; ok != (tt.ttl > 0) {
				t.Errorf("exp present = %v, want %v", ok, tt.ttl > 0)
			}
		})
	}
}

func TestIssueRejects(t *testing.T) {
	v := newTestVerifier(t, 0)
	tests := []struct {
		name     string
		sub      string
		channels []string
		ttl      time.Duration
	}{
		{"empty sub", "", nil, 0},
		{"bad sub", "a/b", nil, 0},
		{"bad channel", "42", []string{"a b"}, 0},
		{"negative ttl", "42", nil, -time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Issue(tt.sub, tt.channels, tt.ttl); err == nil {
				t.Fatal("Issue succeeded")
			}
		})
	}
}

func TestIssuedTokenExpires(t *testing.T) {
	now := testNow
	v, err := NewVerifier(VerifierConfig{Secret: testSecret, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := v.Issue("42", nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	now = testNow.Add(2 * time.Minute)
	if _, err := v.Verify(tok); !errors.Is(err, ErrTokenExpired) {
		t.Fatalf("Verify after exp: err = %v, want ErrTokenExpired", err)
	}
}

func TestAllChannels(t *testing.T) {
	tests := []struct {
		name string
		c    Claims
		want []string
	}{
		{"sub only", Claims{Subject: "42"}, []string{"user:42", "broadcast"}},
		{"extras", Claims{Subject: "42", Channels: []string{"team:7", "ops"}},
			[]string{"user:42", "team:7", "ops", "broadcast"}},
		{"duplicates", Claims{Subject: "42", Channels: []string{"broadcast", "user:42", "ops", "ops"}},
			[]string{"user:42", "broadcast", "ops"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.AllChannels(); !slices.Equal(got, tt.want) {
				t.Fatalf("AllChannels = %q, want %q", got, tt.want)
			}
		})
	}
}

func FuzzVerify(f *testing.F) {
	v := newTestVerifier(f, 0)
	good, err := v.Issue("42", []string{"ops"}, time.Hour)
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "a.b.c", "eyJhbGciOiJub25lIn0.e30.", good + "x", good[:len(good)-3]} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrTokenExpired) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		if c.Subject == "" {
			t.Fatal("accepted a token without sub")
		}
	})
}

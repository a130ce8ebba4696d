package auth

import (
	"slices"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

func TestConfigsValidate(t *testing.T) {
	secret := []byte("0123456789abcdef")
	set, err := NewJWKS(JWKSConfig{URL: "https://idp.example/jwks"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		err  error
		want []string // refused fields
	}{
		{"verifier", VerifierConfig{Secret: secret}.Validate(), nil},
		{"verifier, key set only", VerifierConfig{JWKS: set}.Validate(), nil},
		{"verifier, nothing", VerifierConfig{}.Validate(), []string{"Secret"}},
		{"verifier, short secret beside a key set", VerifierConfig{JWKS: set, Secret: []byte("short")}.Validate(), []string{"Secret"}},
		{"verifier, negative leeways", VerifierConfig{Secret: secret, Leeway: -1, IssuedAtLeeway: -1}.Validate(),
			[]string{"Leeway", "IssuedAtLeeway"}},
		{"tickets", TicketConfig{Secret: secret}.Validate(), nil},
		{"tickets, short", TicketConfig{Secret: secret[:3], TTL: time.Millisecond}.Validate(), []string{"Secret", "TTL"}},
		{"key set", JWKSConfig{URL: "http://127.0.0.1:9/jwks"}.Validate(), nil},
		{"key set, bad", JWKSConfig{URL: "http://idp.example/jwks", Timeout: -1, MinRefresh: -1, MaxAge: time.Millisecond}.Validate(),
			[]string{"URL", "Timeout", "MinRefresh", "MaxAge"}},
	}
	for _, tt := range tests {
		if got := defaults.Fields(tt.err); !slices.Equal(got, tt.want) {
			t.Errorf("%s: refused %v, want %v (%v)", tt.name, got, tt.want, tt.err)
		}
	}
}

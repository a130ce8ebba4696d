package node

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/ws"
)

// TestConfigValidate: the node's Validate reports its own fields and
// those of the packages' Configs, each under its path, all at once.
func TestConfigValidate(t *testing.T) {
	valid := func() Config {
		return Config{NodeID: "n", JWTSecret: []byte(testSecret), APIKeys: []string{testKey}}
	}
	tests := []struct {
		name string
		tune func(*Config)
		want []string
	}{
		{"valid", func(*Config) {}, nil},
		{"no delays", func(c *Config) { c.DrainDelay, c.CloseSpread = NoDelay, NoDelay }, nil},
		{"nothing", func(c *Config) { *c = Config{} }, []string{"NodeID", "JWTSecret", "APIKeys"}},
		{"nested", func(c *Config) {
			c.Stream = stream.Config{MaxLen: -1}
			c.Hub = hub.Config{Window: -1}
			c.WS = ws.Config{HelloTimeout: -time.Second}
			c.Ingest = &ingest.Config{BatchSize: -1}
			c.DrainDelay = -1
		}, []string{"Stream.MaxLen", "Hub.Window", "WS.HelloTimeout", "DrainDelay", "Ingest.BatchSize"}},
		{"empty key", func(c *Config) { c.APIKeys = []string{testKey, ""} }, []string{"APIKeys"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid()
			tt.tune(&c)
			err := c.Validate()
			if got := defaults.Fields(err); !slices.Equal(got, tt.want) {
				t.Fatalf("refused %v, want %v (%v)", got, tt.want, err)
			}
			if _, nerr := New(c, nil, nil); (nerr == nil) != (err == nil) && tt.want != nil {
				t.Fatalf("New: %v", nerr)
			}
		})
	}
}

// TestTicketSecretWithoutJWTSecret: a node that verifies only
// identity-provider tokens still issues SSE tickets, with a key every
// node of the deployment derives alike from the API keys.
func TestTicketSecretWithoutJWTSecret(t *testing.T) {
	set, err := auth.NewJWKS(auth.JWKSConfig{URL: "https://idp.example/jwks"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := Config{NodeID: "a", JWKS: set, APIKeys: []string{"k1-0123456789abcdef", "k2-0123456789abcdef"}}
	b := Config{NodeID: "b", JWKS: set, APIKeys: []string{"k2-0123456789abcdef", "k1-0123456789abcdef"}}
	if err := a.Validate(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.ticketSecret(), b.ticketSecret()) || len(a.ticketSecret()) < auth.MinSecretLen {
		t.Fatal("nodes with the same keys derive different ticket secrets")
	}
	if c := (Config{JWTSecret: []byte(testSecret)}); !bytes.Equal(c.ticketSecret(), []byte(testSecret)) {
		t.Fatal("the JWT secret is not the ticket secret")
	}
}

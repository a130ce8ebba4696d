package main

import (
	"slices"
	"strings"
	"testing"
)

const longKey = "key-0123456789abcdef"

// TestConfigFootguns: lists are trimmed, empty entries and short keys are
// refused with a message naming them, pprof stays on loopback unless
// forced (issue 11, hole 4).
func TestConfigFootguns(t *testing.T) {
	real := map[string]string{"GATEWAY_REDIS_URL": "redis://x", "GATEWAY_JWT_SECRET": "0123456789abcdef0"}
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error; "" = valid
	}{
		{"keys trimmed", map[string]string{"GATEWAY_API_KEYS": " " + longKey + " , " + longKey + "2 "}, ""},
		{"empty key entry", map[string]string{"GATEWAY_API_KEYS": longKey + ",,"}, "GATEWAY_API_KEYS: entry 2 of 3 is empty"},
		{"blank key entry", map[string]string{"GATEWAY_API_KEYS": longKey + ", "}, "GATEWAY_API_KEYS: entry 2 of 2 is empty"},
		{"one-character key", map[string]string{"GATEWAY_API_KEYS": longKey + ",k"}, "key 2 of 2 is 1 characters; at least 16"},
		{"empty origin entry", map[string]string{"GATEWAY_API_KEYS": longKey, "GATEWAY_ALLOWED_ORIGINS": "a.example.com,,b"},
			"GATEWAY_ALLOWED_ORIGINS: entry 2 of 3 is empty"},
		{"pprof on all interfaces", map[string]string{"GATEWAY_API_KEYS": longKey, "GATEWAY_PPROF_ADDR": "0.0.0.0:6060"},
			"GATEWAY_PPROF_ALLOW_REMOTE"},
		{"pprof on empty host", map[string]string{"GATEWAY_API_KEYS": longKey, "GATEWAY_PPROF_ADDR": ":6060"}, "not a loopback"},
		{"pprof remote forced", map[string]string{"GATEWAY_API_KEYS": longKey, "GATEWAY_PPROF_ADDR": "0.0.0.0:6060",
			"GATEWAY_PPROF_ALLOW_REMOTE": "true"}, ""},
		{"pprof loopback", map[string]string{"GATEWAY_API_KEYS": longKey, "GATEWAY_PPROF_ADDR": "[::1]:6060"}, ""},
		{"pprof localhost", map[string]string{"GATEWAY_API_KEYS": longKey, "GATEWAY_PPROF_ADDR": "localhost:6060"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range real {
				t.Setenv(k, v)
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				for _, k := range cfg.APIKeys {
					if k != strings.TrimSpace(k) {
						t.Fatalf("key %q not trimmed", k)
					}
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestOriginsTrimmed(t *testing.T) {
	t.Setenv("GATEWAY_ALLOWED_ORIGINS", " a.example.com , *.b.example.com")
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a.example.com", "*.b.example.com"}; !slices.Equal(cfg.AllowedOrigins, want) {
		t.Fatalf("origins %q, want %q", cfg.AllowedOrigins, want)
	}
	// One list for every browser route: the WebSocket, SSE and the inbox.
	n := nodeConfig(cfg)
	for name, got := range map[string][]string{"WS": n.WS.AllowedOrigins, "SSE": n.SSE.AllowedOrigins, "API": n.API.AllowedOrigins} {
		if !slices.Equal(got, cfg.AllowedOrigins) {
			t.Errorf("%s.AllowedOrigins %q, want %q", name, got, cfg.AllowedOrigins)
		}
	}
}

// TestRedisURLPasswordRedacted: a bad GATEWAY_REDIS_URL is reported
// without its password.
func TestRedisURLPasswordRedacted(t *testing.T) {
	for _, mode := range []string{"single", "cluster", "sentinel"} {
		for _, u := range []string{
			"redis://:s3cret-pass@redis.internal:notaport/0",
			"redis://alice:s3cret-pass@redis.internal:6379/0?dial_timeout=nonsense",
			"redis://alice:s3cret%2Dpass@redis.internal:6379/x",
			"rediss://s3cret-pass@[::1:6379/0",
			"ftp://alice:s3cret-pass@redis.internal/",
			"redis://redis.internal:notaport/0?password=s3cret-pass",
			"redis://:s3cret-pass@sentinel:notaport/0?master_name=m&password=s3cret-pass2&dial_timeout=1s",
			"redis://redis.internal:notaport/0?db=0&password=s3cret%2Dpass",
		} {
			cfg := config{RedisURL: u, RedisMode: mode}
			rdb, err := cfg.redisClient()
			if err == nil {
				_ = rdb.Close()
				continue
			}
			if msg := err.Error(); strings.Contains(msg, "s3cret") {
				t.Errorf("%s %q: error shows the password: %s", mode, u, msg)
			}
		}
	}
}

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/stream"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(cleanupM{m}) }

// cleanupM runs the tests, then removes the binary the process tests built.
type cleanupM struct{ m *testing.M }

func (c cleanupM) Run() int {
	defer removeBinary()
	return c.m.Run()
}

func TestConfigRefusesToStartWithoutSecrets(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string // substring of the error; "" = valid
	}{
		{"embedded demo", map[string]string{}, ""},
		{"embedded off loopback", map[string]string{"GATEWAY_ADDR": "0.0.0.0:8080"}, "loopback only"},
		{"redis without secrets", map[string]string{"GATEWAY_REDIS_URL": "redis://127.0.0.1:6379"},
			"GATEWAY_JWT_SECRET and GATEWAY_API_KEYS must be set"},
		{"redis without keys", map[string]string{"GATEWAY_REDIS_URL": "redis://x", "GATEWAY_JWT_SECRET": "0123456789abcdef0"},
			"GATEWAY_API_KEYS must be set"},
		{"short secret", map[string]string{"GATEWAY_REDIS_URL": "redis://x", "GATEWAY_JWT_SECRET": "short", "GATEWAY_API_KEYS": "k"},
			"at least 16 bytes"},
		{"bad mode", map[string]string{"GATEWAY_REDIS_URL": "redis://x", "GATEWAY_JWT_SECRET": "0123456789abcdef0",
			"GATEWAY_API_KEYS": "k", "GATEWAY_REDIS_MODE": "ring"}, "GATEWAY_REDIS_MODE"},
		{"bad duration", map[string]string{"GATEWAY_DRAIN_DELAY": "soon"}, "GATEWAY_DRAIN_DELAY"},
		{"complete", map[string]string{"GATEWAY_REDIS_URL": "redis://x", "GATEWAY_JWT_SECRET": "0123456789abcdef0",
			"GATEWAY_API_KEYS": "key-one-0123456789,key-two-0123456789", "GATEWAY_ADDR": "0.0.0.0:8080"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := loadConfig()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if cfg.NodeID == "" || cfg.RedisPrefix != stream.DefaultPrefix || cfg.StreamMaxLen != stream.DefaultMaxLen {
					t.Fatalf("defaults not applied: %+v", cfg)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestDemoDefaults(t *testing.T) {
	cfg, err := loadConfig()
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.demo() {
		t.Fatal("the embedded mode should serve the demo")
	}
	fillDemoSecrets(&cfg)
	d, err := demoSettingsFor(cfg)
	if err != nil || d.Token == "" || d.APIKey != cfg.APIKeys[0] {
		t.Fatalf("%+v %v", d, err)
	}
}

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &errb); err != nil || !strings.Contains(out.String(), "usage") {
		t.Fatalf("help: %v %q", err, out.String())
	}
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errb); err == nil {
		t.Fatal("unknown command accepted")
	}
	if err := run(context.Background(), []string{"token"}, &out, &errb); err == nil {
		t.Fatal("token without a secret accepted")
	}
	t.Setenv("GATEWAY_JWT_SECRET", "0123456789abcdef0123")
	out.Reset()
	if err := run(context.Background(), []string{"token", "-sub", "42", "-channels", "team:x"}, &out, &errb); err != nil {
		t.Fatal(err)
	}
	if parts := strings.Split(strings.TrimSpace(out.String()), "."); len(parts) != 3 {
		t.Fatalf("not a JWT: %q", out.String())
	}
	if err := run(context.Background(), []string{"publish", "-data", "{"}, &out, &errb); err == nil {
		t.Fatal("bad JSON accepted")
	}
	if err := run(context.Background(), []string{"tail", "-token", ""}, &out, &errb); err == nil {
		t.Fatal("tail without token accepted")
	}
}

func TestSubcommandHelpIsNotAnError(t *testing.T) {
	for _, cmd := range []string{"publish", "tail", "token", "partition"} {
		var out, errb bytes.Buffer
		if err := run(context.Background(), []string{cmd, "-h"}, &out, &errb); err != nil {
			t.Errorf("%s -h: %v", cmd, err)
		}
	}
}

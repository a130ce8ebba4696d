package main

import (
	"context"
	"io"
	"net/http"
	"testing"
)

// TestAdminPprofOffByDefault: the admin listener serves metrics but not
// pprof unless GATEWAY_ADMIN_PPROF asks for it (a listener opened to a
// scraper must not hand out profiles to every pod that reaches it).
func TestAdminPprofOffByDefault(t *testing.T) {
	addr, admin := freeAddr(t), freeAddr(t)
	for k, v := range map[string]string{
		"GATEWAY_ADDR": addr, "GATEWAY_ADMIN_ADDR": admin,
		"GATEWAY_JWT_SECRET": "0123456789abcdef0123", "GATEWAY_API_KEYS": longKey, "GATEWAY_DEMO": "false",
		"GATEWAY_DRAIN_DELAY": "1ms", "GATEWAY_CLOSE_SPREAD": "1ms",
	} {
		t.Setenv(k, v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, nil, io.Discard, io.Discard) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	waitStatus(t, http.DefaultClient, "http://"+addr+"/readyz", http.StatusOK)
	wantStatus(t, http.DefaultClient, "http://"+admin+"/metrics", http.StatusOK)
	wantStatus(t, http.DefaultClient, "http://"+admin+"/debug/pprof/", http.StatusNotFound)
	wantStatus(t, http.DefaultClient, "http://"+admin+"/debug/pprof/profile?seconds=1", http.StatusNotFound)
}

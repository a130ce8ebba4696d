package node

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

// TestWebSocketOverTLS serves a node over TLS, where a socket cannot be
// written without blocking, so every frame goes through a dedicated writer:
// small and large alarms arrive whole and in order.
func TestWebSocketOverTLS(t *testing.T) {
	prefix := testutil.Prefix(t)
	rdb := realRedis(t, "t-"+prefix)
	n, err := New(Config{
		NodeID: "tls", JWTSecret: []byte(testSecret), APIKeys: []string{testKey},
		Stream: stream.Config{Prefix: prefix}, Hub: hub.Config{Window: 1000},
		DrainDelay: time.Millisecond, CloseSpread: time.Millisecond,
	}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	certs := httptest.NewUnstartedServer(nil) // for its test certificate and a client trusting it
	certs.StartTLS()
	defer certs.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- n.Serve(context.Background(), tls.NewListener(ln, certs.TLS)) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = n.Shutdown(ctx)
		if err := <-stopped; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	r := startRecorder(t, token(t, "tls", nil, time.Hour), client.Config{
		Endpoints: []string{"wss://" + addr + "/v1/ws"}, HTTPClient: certs.Client(),
	})
	r.waitFor(t, "welcome", func(r *recorder) bool { return len(r.welcomes) == 1 })
	pub := &client.Publisher{BaseURL: "https://" + addr, APIKey: testKey, HTTPClient: certs.Client()}
	var want []string
	for i := 0; i < 40; i++ {
		pad := strings.Repeat("z", (i%4)*20<<10) // up to 60 KiB: 16-bit frame lengths, and 64-bit when coalesced
		res, err := pub.Publish(ctx, "user:tls", "t", map[string]any{"i": i, "pad": pad}, "")
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, res.ID)
	}
	r.waitFor(t, "every alarm", func(r *recorder) bool { return len(r.ids) >= len(want) })
	got, _ := r.snapshot()
	equalIDs(t, got, want)
}

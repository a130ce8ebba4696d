package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/auth"
)

// testPKI is a CA and the leaf certificates a test needs, written as PEM
// files in a temporary directory.
type testPKI struct {
	dir    string
	ca     *x509.Certificate
	caKey  *ecdsa.PrivateKey
	caFile string
	pool   *x509.CertPool
	serial int64
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "alarmgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{dir: t.TempDir(), ca: ca, caKey: key, pool: x509.NewCertPool(), serial: 1}
	p.pool.AddCert(ca)
	p.caFile = p.write(t, "ca.pem", "CERTIFICATE", der)
	return p
}

func (p *testPKI) write(t *testing.T, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(p.dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// leaf issues a certificate for 127.0.0.1 and localhost, usable by servers
// and clients, and returns its certificate and key files.
func (p *testPKI) leaf(t *testing.T, name string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(p.serial), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.caKey)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return p.write(t, name+".pem", "CERTIFICATE", der), p.write(t, name+"-key.pem", "PRIVATE KEY", kder)
}

// freeAddr returns a loopback address nothing listens on (for a server
// configured by address).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// startTLSRedis starts a redis-server that only speaks TLS, requires
// client certificates and has an ACL user alice. It skips the test when
// redis-server is missing or was built without TLS.
func startTLSRedis(t *testing.T, p *testPKI) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed")
	}
	cert, key := p.leaf(t, "redis")
	addr := freeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	conf := filepath.Join(p.dir, "redis.conf")
	err = os.WriteFile(conf, []byte(strings.Join([]string{
		"port 0", "tls-port " + port, "bind 127.0.0.1",
		"tls-cert-file " + cert, "tls-key-file " + key, "tls-ca-cert-file " + p.caFile, "tls-auth-clients yes",
		`save ""`, "appendonly no", "dir " + p.dir,
		"user default off", "user alice on >s3cr3t-Pa55 ~* &* +@all", ""}, "\n")), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, conf)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return addr
		}
	}
	if strings.Contains(out.String(), "tls") || strings.Contains(out.String(), "TLS") {
		t.Skipf("redis-server without TLS support: %s", out.String())
	}
	t.Fatalf("redis-server did not start: %s", out.String())
	return ""
}

// TestRedisTLS: a rediss:// URL with an ACL user, GATEWAY_REDIS_CA_FILE
// and a client certificate reaches a redis-server that requires TLS;
// without the CA or the client certificate it fails, and no error shows
// the password.
func TestRedisTLS(t *testing.T) {
	p := newTestPKI(t)
	addr := startTLSRedis(t, p)
	cert, key := p.leaf(t, "gateway")
	const pass = "s3cr3t-Pa55"
	good := "rediss://alice:" + pass + "@" + addr + "/0"
	tests := []struct {
		name      string
		url       string
		ca, cert  bool
		wantError bool
	}{
		{"ACL user, CA, client cert", good, true, true, false},
		{"no CA file: system roots refuse", good, false, true, true},
		{"no client certificate", good, true, false, true},
		{"wrong password", "rediss://alice:wrong-" + pass + "@" + addr + "/0", true, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := config{RedisMode: "single", RedisURL: tt.url}
			if tt.ca {
				c.RedisCAFile = p.caFile
			}
			if tt.cert {
				c.RedisCertFile, c.RedisKeyFile = cert, key
			}
			rdb, err := c.redisClient()
			if err != nil {
				t.Fatal(err)
			}
			defer rdb.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			defer cancel()
			err = rdb.Ping(ctx).Err()
			if tt.wantError != (err != nil) {
				t.Fatalf("PING: %v, want error %v", err, tt.wantError)
			}
			if err != nil && strings.Contains(redactError(err, tt.url).Error(), pass) {
				t.Fatalf("error shows the password: %v", err)
			}
		})
	}
}

// TestRedisTLSConfig: the TLS settings are applied in every mode, and
// files that do not load are refused with a message naming the variable.
func TestRedisTLSConfig(t *testing.T) {
	p := newTestPKI(t)
	cert, key := p.leaf(t, "gateway")
	for mode, url := range map[string]string{"single": "rediss://u:pw@127.0.0.1:6380/0", "cluster": "rediss://u:pw@127.0.0.1:6380",
		"sentinel": "rediss://u:pw@127.0.0.1:26380?master_name=m"} {
		c := config{RedisMode: mode, RedisURL: url}
		c.RedisCAFile, c.RedisCertFile, c.RedisKeyFile = p.caFile, cert, key
		rdb, err := c.redisClient()
		if err != nil {
			t.Fatalf("%s: %v", mode, err)
		}
		_ = rdb.Close()
	}
	c := config{RedisMode: "single", RedisURL: "rediss://u:pw@127.0.0.1:6380/0"}
	c.RedisCAFile = cert + ".missing"
	if _, err := c.redisClient(); err == nil || !strings.Contains(err.Error(), "GATEWAY_REDIS_CA_FILE") {
		t.Fatalf("missing CA file: %v", err)
	}
	tc, err := (&config{}).redisTLS(&tls.Config{ServerName: "h"})
	if err != nil || tc.MinVersion < tls.VersionTLS12 || tc.ServerName != "h" {
		t.Fatalf("redisTLS: %+v %v", tc, err)
	}
}

// TestOpsConfig: pairs go together, TLS files need rediss://, the admin
// listener stays on loopback unless forced, JWKS replaces the secret.
func TestOpsConfig(t *testing.T) {
	base := map[string]string{"GATEWAY_REDIS_URL": "redis://x", "GATEWAY_API_KEYS": longKey}
	secret := map[string]string{"GATEWAY_JWT_SECRET": "0123456789abcdef0"}
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"JWKS without secret", map[string]string{"GATEWAY_JWKS_URL": "https://idp.example/jwks"}, ""},
		{"JWKS over plain http", map[string]string{"GATEWAY_JWKS_URL": "http://idp.example/jwks"}, "must use https"},
		{"neither secret nor JWKS", nil, "GATEWAY_JWT_SECRET"},
		{"cert without key", map[string]string{"GATEWAY_TLS_CERT_FILE": "c.pem"}, "set both or neither"},
		{"redis CA with redis://", map[string]string{"GATEWAY_REDIS_CA_FILE": "ca.pem"}, "rediss://"},
		{"admin on all interfaces", map[string]string{"GATEWAY_ADMIN_ADDR": ":9090"}, "GATEWAY_ADMIN_ALLOW_REMOTE"},
		{"admin forced", map[string]string{"GATEWAY_ADMIN_ADDR": ":9090", "GATEWAY_ADMIN_ALLOW_REMOTE": "true"}, ""},
		{"admin and pprof", map[string]string{"GATEWAY_ADMIN_ADDR": "127.0.0.1:9090", "GATEWAY_PPROF_ADDR": "127.0.0.1:6060"}, "deprecated"},
		{"admin pprof without admin", map[string]string{"GATEWAY_ADMIN_PPROF": "true"}, "GATEWAY_ADMIN_ADDR"},
		{"admin pprof", map[string]string{"GATEWAY_ADMIN_ADDR": "127.0.0.1:9090", "GATEWAY_ADMIN_PPROF": "true"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range base {
				t.Setenv(k, v)
			}
			if tt.name != "neither secret nor JWKS" && tt.env["GATEWAY_JWKS_URL"] == "" {
				for k, v := range secret {
					t.Setenv(k, v)
				}
			}
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := loadConfig()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// TestServeTLSAndAdmin runs a node with TLS on its public listener and an
// admin listener: https and wss work with the generated certificate, the
// public port no longer serves /metrics, the admin port serves metrics
// (the delivery lag included), readiness detail and pprof, and
// `gateway healthcheck` passes against it.
func TestServeTLSAndAdmin(t *testing.T) {
	p := newTestPKI(t)
	cert, key := p.leaf(t, "gateway")
	addr, admin := freeAddr(t), freeAddr(t)
	const secret = "0123456789abcdef0123"
	for k, v := range map[string]string{
		"GATEWAY_ADDR": addr, "GATEWAY_ADMIN_ADDR": admin, "GATEWAY_ADMIN_PPROF": "true", "GATEWAY_TLS_CERT_FILE": cert, "GATEWAY_TLS_KEY_FILE": key,
		"GATEWAY_JWT_SECRET": secret, "GATEWAY_API_KEYS": longKey, "GATEWAY_DEMO": "false",
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
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.pool}}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Second}
	waitStatus(t, hc, "https://"+addr+"/readyz", http.StatusOK)

	wantStatus(t, hc, "https://"+addr+"/metrics", http.StatusNotFound)
	wantStatus(t, http.DefaultClient, "http://"+admin+"/debug/pprof/", http.StatusOK)
	var detail struct {
		Ready, Loaded, Subscribed, CaughtUp, Draining bool
		Applied, Epoch                                string
		LastProbeAge                                  float64 `json:"last_probe_age_seconds"`
	}
	getJSON(t, "http://"+admin+"/readyz/detail", &detail)
	if !detail.Ready || !detail.Loaded || detail.Draining || detail.Epoch == "" || detail.LastProbeAge < 0 {
		t.Fatalf("readiness detail %+v", detail)
	}

	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := v.Issue("alice", nil, time.Hour)
	wctx, wcancel := context.WithTimeout(ctx, 5*time.Second)
	defer wcancel()
	conn, _, err := websocket.Dial(wctx, "wss://"+addr+"/v1/ws", &websocket.DialOptions{HTTPClient: hc})
	if err != nil {
		t.Fatalf("wss: %v", err)
	}
	defer conn.CloseNow()
	if err := conn.Write(wctx, websocket.MessageText, []byte(`{"type":"hello","token":"`+tok+`"}`)); err != nil {
		t.Fatal(err)
	}
	readUntil(t, wctx, conn, `"type":"welcome"`)
	req, _ := http.NewRequest(http.MethodPost, "https://"+addr+"/v1/alarms",
		strings.NewReader(`{"channel":"user:alice","event":"e","data":1}`))
	req.Header.Set("Authorization", "Bearer "+longKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("publish over https: %s", resp.Status)
	}
	readUntil(t, wctx, conn, `"type":"alarm"`)
	metrics := getBody(t, "http://"+admin+"/metrics")
	if !strings.Contains(metrics, "alarmgate_delivery_lag_seconds_count 1") {
		t.Fatalf("no delivery lag observed:\n%s", grepLines(metrics, "delivery_lag"))
	}

	var out bytes.Buffer
	if err := run(ctx, []string{"healthcheck"}, &out, io.Discard); err != nil || strings.TrimSpace(out.String()) != "ok" {
		t.Fatalf("healthcheck: %v %q", err, out.String())
	}
	if err := run(ctx, []string{"healthcheck", "-url", "http://" + admin + "/nope"}, &out, io.Discard); err == nil {
		t.Fatal("healthcheck passes on a 404")
	}
}

func readUntil(t *testing.T, ctx context.Context, c *websocket.Conn, want string) {
	t.Helper()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", want, err)
		}
		if strings.Contains(string(b), want) {
			return
		}
	}
}

func waitStatus(t *testing.T, c *http.Client, url string, want int) {
	t.Helper()
	var last string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := c.Get(url)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
	}
	t.Fatalf("%s: %s, want %d", url, last, want)
}

func wantStatus(t *testing.T, c *http.Client, url string, want int) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("%s: %s, want %d", url, resp.Status, want)
	}
}

func getBody(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(getBody(t, url)), v); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", url, err))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for l := range strings.SplitSeq(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// peerConfig says how the peer's nodes are configured. Everything not
// named here stays at Centrifugo's default.
type peerConfig struct {
	Port       int
	Node       string
	RedisURL   string // redis://host:port
	Prefix     string // Redis key prefix (default "centrifugo")
	Secret     string // HS256 secret of client tokens
	APIKey     string
	HistoryTTL time.Duration // with HistorySize: history and recovery on every channel
	// HistorySize is the publications kept per channel; 0 turns history
	// and recovery off.
	HistorySize int
}

// peerNamespaces are the channel namespaces loadgen's workloads use
// (user:…, room:…, bench:…); they all get the same channel options.
var peerNamespaces = []string{"user", "room", "bench"}

// json returns Centrifugo v6's JSON configuration for c.
func (c peerConfig) json() ([]byte, error) {
	ch := map[string]any{}
	if c.HistorySize > 0 {
		ch["history_size"] = c.HistorySize
		ch["history_ttl"] = c.HistoryTTL.String()
		ch["force_recovery"] = true
	}
	var ns []map[string]any
	for _, name := range peerNamespaces {
		n := map[string]any{"name": name}
		for k, v := range ch {
			n[k] = v
		}
		ns = append(ns, n)
	}
	redis := map[string]any{"address": []string{c.RedisURL}}
	if c.Prefix != "" {
		redis["prefix"] = c.Prefix
	}
	cfg := map[string]any{
		"http_server": map[string]any{"address": "127.0.0.1", "port": c.Port},
		"node":        map[string]any{"name": c.Node},
		"log":         map[string]any{"level": "warn"},
		"health":      map[string]any{"enabled": true},
		"engine":      map[string]any{"type": "redis", "redis": redis},
		"http_api":    map[string]any{"key": c.APIKey},
		"client": map[string]any{
			"allowed_origins": []string{"*"},
			"token":           map[string]any{"hmac_secret_key": c.Secret},
		},
		"channel": map[string]any{"without_namespace": ch, "namespaces": ns},
	}
	return json.MarshalIndent(cfg, "", "  ")
}

// peerBin returns the Centrifugo binary to run: -centrifugo, else
// $CENTRIFUGO_BIN, else where docs/bench/peer.sh installs it.
func peerBin(flagValue string) (string, error) {
	bin := flagValue
	if bin == "" {
		bin = os.Getenv("CENTRIFUGO_BIN")
	}
	if bin == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		bin = filepath.Join(home, ".cache", "alarmgate-peer", "bin", "centrifugo")
	}
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("centrifugo binary: %w (install it with docs/bench/peer.sh, or pass -centrifugo)", err)
	}
	return bin, nil
}

// peerVersion reads the module version go install recorded in bin
// ("v6.9.1"), or "unknown".
func peerVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, "go", "version", "-m", bin).Output()
	if err != nil {
		return "unknown"
	}
	return moduleVersion(string(out), "github.com/centrifugal/centrifugo/")
}

// moduleVersion finds the main module's version in go version -m output
// whose path starts with prefix.
func moduleVersion(out, prefix string) string {
	for line := range strings.SplitSeq(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "mod" && strings.HasPrefix(f[1], prefix) {
			return f[2]
		}
	}
	return "unknown"
}

// startPeer writes the configuration of peer node i into the cluster's
// directory, starts it and waits until /health answers.
func (c *cluster) startPeer(ctx context.Context, i int) (*gwNode, error) {
	if c.redis == nil {
		return nil, errors.New("cluster: the peer runs on loadgen's own Redis only")
	}
	port, err := testproc.FreePort()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	pc := peerConfig{Port: port, Node: "lg-" + strconv.Itoa(i+1), RedisURL: "redis://" + c.redis.Addr,
		Secret: c.cfg.Secret, APIKey: c.cfg.APIKey, HistorySize: c.cfg.PeerHistory, HistoryTTL: time.Hour}
	b, err := pc.json()
	if err != nil {
		return nil, err
	}
	file := filepath.Join(c.dir, fmt.Sprintf("centrifugo-%d.json", i+1))
	if err := os.WriteFile(file, b, 0o600); err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	p := &testproc.Proc{Name: pc.Node, Argv: []string{c.cfg.Peer, "-c", file}, Env: testproc.CleanEnv()}
	c.setLog(p, fmt.Sprintf("centrifugo-%d.log", i+1))
	if err := p.Start(); err != nil {
		return nil, fmt.Errorf("cluster: start centrifugo: %w", err)
	}
	n := &gwNode{URL: "http://127.0.0.1:" + strconv.Itoa(port), PID: p.PID(), proc: p, wsPath: "/connection/websocket"}
	c.setNode(i, n)
	if err := waitHealth(ctx, n.URL+"/health", 30*time.Second, p.Exited()); err != nil {
		return nil, fmt.Errorf("cluster: %s: %w\n%s", pc.Node, err, p.LogTail(20))
	}
	return n, nil
}

// waitHealth polls url until it answers 200, for at most limit.
func waitHealth(ctx context.Context, url string, limit time.Duration, exited <-chan struct{}) error {
	hc := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: time.Second}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return errors.New("not healthy in time")
		case <-exited:
			return errors.New("exited while starting")
		case <-time.After(50 * time.Millisecond):
		}
	}
}

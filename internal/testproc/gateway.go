package testproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// ErrNotReady reports a /readyz answer other than 200.
var ErrNotReady = errors.New("not ready")

// ModuleRoot returns the directory of the go.mod of the module the current
// directory belongs to.
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	gomod := strings.TrimSpace(string(out))
	if err != nil || gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("locate module root (go env GOMOD = %q): %v", gomod, err)
	}
	return filepath.Dir(gomod), nil
}

// BuildGateway builds ./cmd/gateway of the module root into dir (without
// -race: the nodes must be fast) and returns the binary's path. Build it
// once per test binary and share it.
func BuildGateway(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "gateway")
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gateway")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/gateway: %w\n%s", err, out)
	}
	return bin, nil
}

// CleanEnv is the parent's environment without GATEWAY_* variables, so a
// developer's shell cannot change what a test configures.
func CleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GATEWAY_") {
			env = append(env, kv)
		}
	}
	return env
}

// Gateway is one gateway process on a fixed loopback address; it can be
// killed or terminated and started again on the same address.
type Gateway struct {
	*Proc
	Addr string // 127.0.0.1:port
}

// NewGateway prepares binary bin as node id on addr ("" picks a free
// port). Its environment is CleanEnv, GATEWAY_ADDR, GATEWAY_NODE_ID, then
// env (later entries win). Set the Proc's log fields before Start.
func NewGateway(bin, id, addr string, env []string) (*Gateway, error) {
	if addr == "" {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		addr = "127.0.0.1:" + strconv.Itoa(port)
	}
	e := append(CleanEnv(), "GATEWAY_ADDR="+addr, "GATEWAY_NODE_ID="+id)
	return &Gateway{Proc: &Proc{Name: id, Argv: []string{bin}, Env: append(e, env...)}, Addr: addr}, nil
}

// URL returns the node's base URL, http://host:port.
func (g *Gateway) URL() string { return "http://" + g.Addr }

// WSURL returns the node's WebSocket URL.
func (g *Gateway) WSURL() string { return "ws://" + g.Addr + "/v1/ws" }

// WaitReady polls /readyz until 200, for at most limit, with hc (nil: a
// client without keep-alives). Its error carries the log tail.
func (g *Gateway) WaitReady(ctx context.Context, hc *http.Client, limit time.Duration) error {
	err := WaitReady(ctx, hc, g.URL(), limit, g.Exited())
	switch {
	case errors.Is(err, errExited):
		return fmt.Errorf("%s exited while starting:\n%s", g.Name, g.LogTail(20))
	case err != nil:
		return fmt.Errorf("%s %w\n%s", g.Name, err, g.LogTail(20))
	}
	return nil
}

var errExited = errors.New("exited while starting")

// WaitReady polls baseURL/readyz every 50ms (each probe bounded by 1s)
// until it answers 200, for at most limit, or until exited is closed (nil:
// never).
func WaitReady(ctx context.Context, hc *http.Client, baseURL string, limit time.Duration, exited <-chan struct{}) error {
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	for {
		err := probe(ctx, hc, baseURL+"/readyz")
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not ready within %v (last: %w)", limit, err)
		case <-exited:
			return errExited
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func probe(ctx context.Context, hc *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", ErrNotReady, resp.Status)
	}
	return nil
}

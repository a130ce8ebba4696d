package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/node"
)

// OpsConfig is the part of config about identity providers, TLS and the
// admin listener (issue 11). It is embedded in config, so its variables
// are read, checked and documented like the others.
type OpsConfig struct {
	JWKSURL       string `env:"GATEWAY_JWKS_URL"`
	JWTAudience   string `env:"GATEWAY_JWT_AUDIENCE"`
	JWTIssuer     string `env:"GATEWAY_JWT_ISSUER"`
	RedisCAFile   string `env:"GATEWAY_REDIS_CA_FILE"`
	RedisCertFile string `env:"GATEWAY_REDIS_CERT_FILE"`
	RedisKeyFile  string `env:"GATEWAY_REDIS_KEY_FILE"`
	TLSCertFile   string `env:"GATEWAY_TLS_CERT_FILE"`
	TLSKeyFile    string `env:"GATEWAY_TLS_KEY_FILE"`
	AdminAddr     string `env:"GATEWAY_ADMIN_ADDR"`
	AdminRemote   bool   `env:"GATEWAY_ADMIN_ALLOW_REMOTE"`
	AdminPprof    bool   `env:"GATEWAY_ADMIN_PPROF"`
}

// validateOps checks the pairs that go together and keeps the admin
// listener on loopback unless forced.
func (c *config) validateOps() []error {
	var errs []error
	pairs := [][2]string{{c.RedisCertFile, c.RedisKeyFile}, {c.TLSCertFile, c.TLSKeyFile}}
	names := [][2]string{{"GATEWAY_REDIS_CERT_FILE", "GATEWAY_REDIS_KEY_FILE"}, {"GATEWAY_TLS_CERT_FILE", "GATEWAY_TLS_KEY_FILE"}}
	for i, p := range pairs {
		if (p[0] == "") != (p[1] == "") {
			errs = append(errs, fmt.Errorf("%s and %s go together: set both or neither", names[i][0], names[i][1]))
		}
	}
	if (c.RedisCAFile != "" || c.RedisCertFile != "") && !strings.HasPrefix(c.RedisURL, "rediss://") {
		errs = append(errs, errors.New("GATEWAY_REDIS_CA_FILE and GATEWAY_REDIS_CERT_FILE need a rediss:// GATEWAY_REDIS_URL"))
	}
	if _, err := c.jwks(nil); err != nil {
		errs = append(errs, err)
	}
	if c.TLSCertFile != "" && c.TLSKeyFile != "" {
		if _, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile); err != nil {
			errs = append(errs, fmt.Errorf("GATEWAY_TLS_CERT_FILE/KEY_FILE: %w", err))
		}
	}
	if c.RedisURL != "" { // parse it (and its TLS files) now; nothing is dialed
		if rdb, err := c.redisClient(); err != nil {
			errs = append(errs, err)
		} else {
			_ = rdb.Close()
		}
	}
	if c.AdminAddr == "" {
		if c.AdminPprof {
			errs = append(errs, errors.New("GATEWAY_ADMIN_PPROF serves pprof on the admin listener: set GATEWAY_ADMIN_ADDR too"))
		}
		return errs
	}
	if c.PprofAddr != "" {
		errs = append(errs, errors.New("GATEWAY_PPROF_ADDR is deprecated and the admin listener serves pprof: set only GATEWAY_ADMIN_ADDR, with GATEWAY_ADMIN_PPROF=true"))
	}
	if err := checkLoopbackAddr("GATEWAY_ADMIN_ADDR", c.AdminAddr, c.AdminRemote, "GATEWAY_ADMIN_ALLOW_REMOTE"); err != nil {
		errs = append(errs, err)
	}
	return errs
}

// checkLoopbackAddr refuses a listen address off loopback unless forced.
func checkLoopbackAddr(name, addr string, forced bool, force string) error {
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return fmt.Errorf("%s: %q: %w", name, addr, err)
	}
	if !forced && !auth.IsLoopbackHost(addr) {
		return fmt.Errorf("%s: %q is not a loopback address; set %s=true to serve it beyond this host", name, addr, force)
	}
	return nil
}

// jwks builds the identity provider's key set, or nil when none is set.
func (c *config) jwks(log *slog.Logger) (*auth.JWKS, error) {
	if c.JWKSURL == "" {
		return nil, nil
	}
	set, err := auth.NewJWKS(auth.JWKSConfig{URL: c.JWKSURL}, log)
	if err != nil {
		return nil, fmt.Errorf("GATEWAY_JWKS_URL: %w", err)
	}
	return set, nil
}

// redisTLS completes the TLS settings a rediss:// URL produced (nil for
// redis://) with GATEWAY_REDIS_CA_FILE and the client certificate.
func (c *config) redisTLS(base *tls.Config) (*tls.Config, error) {
	if base == nil {
		return nil, nil
	}
	tc := base.Clone()
	tc.MinVersion = max(tc.MinVersion, tls.VersionTLS12)
	if c.RedisCAFile != "" {
		pool, err := loadCAFile(c.RedisCAFile)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_REDIS_CA_FILE: %w", err)
		}
		tc.RootCAs = pool
	}
	if c.RedisCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.RedisCertFile, c.RedisKeyFile)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_REDIS_CERT_FILE/KEY_FILE: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// listen opens the public listener, with TLS when GATEWAY_TLS_CERT_FILE
// is set (HTTP/1.1 only: WebSockets need the connection hijacked).
func (c *config) listen() (net.Listener, error) {
	var tc *tls.Config
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("GATEWAY_TLS_CERT_FILE/KEY_FILE: %w", err)
		}
		tc = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	return ln, nil
}

// serveAdmin serves n's admin routes on GATEWAY_ADMIN_ADDR, and pprof
// when asked (GATEWAY_ADMIN_PPROF). It returns a func that stops the
// listener.
func serveAdmin(addr string, n *node.Node, pprof bool, log *slog.Logger) (func(), error) {
	h := n.AdminHandler()
	if pprof {
		mux := http.NewServeMux()
		mux.Handle("/", h)
		node.RegisterPprof(mux)
		h = mux
	}
	return serveSide("admin", addr, h, log)
}

// serveSide serves h on its own listener at addr (admin, or the
// deprecated pprof). The returned func closes it; the goroutine serving
// it ends then.
func serveSide(name, addr string, h http.Handler, log *slog.Logger) (func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s listen: %w", name, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	go func() { _ = srv.Serve(ln) }() // owned by the returned func; Close ends it
	log.Info("gateway: "+name+" listening", "addr", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// healthcheckTimeout bounds `gateway healthcheck`.
const healthcheckTimeout = 3 * time.Second

// cmdHealthcheck GETs /healthz of the node configured by GATEWAY_ADDR (or
// -url) and fails unless it answers 200: a container HEALTHCHECK that
// needs no curl in the image.
func cmdHealthcheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	def := os.Getenv("GATEWAY_ADDR")
	if def == "" {
		def = "127.0.0.1:8080"
	}
	target := fs.String("url", "", "URL to GET (default http://$GATEWAY_ADDR/healthz; https when GATEWAY_TLS_CERT_FILE is set)")
	insecure := fs.Bool("insecure", true, "with https, do not verify the certificate (it checks this very node)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	u := *target
	if u == "" {
		scheme := "http"
		if os.Getenv("GATEWAY_TLS_CERT_FILE") != "" {
			scheme = "https"
		}
		host, port, err := net.SplitHostPort(def)
		if err != nil {
			return fmt.Errorf("healthcheck: GATEWAY_ADDR %q: %w", def, err)
		}
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		u = scheme + "://" + net.JoinHostPort(host, port) + "/healthz"
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: *insecure}} //nolint:gosec // checks the local node
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: %s answered %s", u, resp.Status)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}

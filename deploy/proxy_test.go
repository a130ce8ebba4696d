package deploy

import (
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/alarmgate/alarmgate/internal/limit"
)

// checkConnectLimit checks one deployment's gateway environment (name ->
// literal value): the connect rate is on, and the trusted proxies parse
// and make a connection from proxy with X-Forwarded-For count as the
// client's.
func checkConnectLimit(t *testing.T, where string, env map[string]string, proxy string) {
	t.Helper()
	if v, ok := env["GATEWAY_CONNECT_RATE"]; ok {
		if rate, err := strconv.ParseFloat(v, 64); err != nil || rate < 0 {
			t.Errorf("%s: GATEWAY_CONNECT_RATE=%s turns the per-client connect limit off", where, v)
		}
	}
	list := env["GATEWAY_TRUSTED_PROXIES"]
	if list == "" {
		t.Errorf("%s: no GATEWAY_TRUSTED_PROXIES: behind the proxy every client shares one connect budget", where)
		return
	}
	c, err := limit.NewConns(limit.ConnConfig{TrustedProxies: strings.Split(list, ",")}, nil, nil)
	if err != nil {
		t.Errorf("%s: GATEWAY_TRUSTED_PROXIES=%s: %v", where, list, err)
		return
	}
	r := httptest.NewRequest(http.MethodGet, "/v1/ws", nil)
	r.RemoteAddr = proxy + ":40000"
	r.Header.Set("X-Forwarded-For", "198.51.100.23")
	if got := c.Source(r); got != "198.51.100.23" {
		t.Errorf("%s: a connection from the proxy %s counts as %s, not as its client", where, proxy, got)
	}
}

// TestConnectLimitBehindProxy: the example deployments keep the
// per-client connect limit on behind their proxy: the gateways trust the
// proxy's X-Forwarded-For (compose: the nginx container's fixed address;
// Kubernetes: the pod network, where the ingress controller runs), and
// nginx sets the header on every location it proxies.
func TestConnectLimitBehindProxy(t *testing.T) {
	m := readJSONYAML(t, "compose.yaml")
	svcs := at(t, m, "services").(map[string]any)
	lb, _ := at(t, svcs, "lb").(map[string]any)["networks"].(map[string]any)
	var lbAddr string
	for _, n := range lb {
		if a, ok := n.(map[string]any)["ipv4_address"].(string); ok {
			lbAddr = a
		}
	}
	if lbAddr == "" {
		t.Error("compose.yaml: lb has no fixed address for the gateways to trust")
	}
	for _, g := range []string{"gateway1", "gateway2"} {
		env := map[string]string{}
		for k, v := range at(t, svcs, g, "environment").(map[string]any) {
			env[k], _ = v.(string)
		}
		checkConnectLimit(t, "compose.yaml "+g, env, lbAddr)
	}

	_, c := deployment(t)
	env := map[string]string{}
	for _, e := range at(t, c, "env").([]any) {
		if e := e.(map[string]any); e["value"] != nil {
			env[e["name"].(string)], _ = e["value"].(string)
		}
	}
	checkConnectLimit(t, "k8s/deployment.yaml", env, "10.244.1.7")

	b, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/v1/ws", "/v1/sse/stream", "/v1/alarms", "/v1/alarms/batch", "/v1/sse/ticket"} {
		if !nginxSetsXFF(string(b), path) {
			t.Errorf("nginx.conf: the location serving %s does not set X-Forwarded-For $proxy_add_x_forwarded_for", path)
		}
	}
}

// nginxSetsXFF reports whether the location nginx picks for path sets
// X-Forwarded-For to $proxy_add_x_forwarded_for (nginxBlocks keeps one
// value per directive name, so the location's lines are searched).
func nginxSetsXFF(conf, path string) bool {
	name := nginxLocationKey(nginxBlocks(conf), path)
	if name == "" {
		return false
	}
	in := false
	for l := range strings.SplitSeq(conf, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "location "):
			in = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "location "), "{")) == name
		case l == "}":
			in = false
		case in && strings.Join(strings.Fields(l), " ") == "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;":
			return true
		}
	}
	return false
}

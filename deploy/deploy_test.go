// Package deploy holds the example deployment files (Dockerfile at the
// repository root, compose.yaml, k8s/, nginx.conf). Docker and Kubernetes
// are not available to the tests, so these tests validate what can be
// validated offline: the manifests parse, their numbers agree with the
// node's drain, and the Dockerfile's build step, run as a script, gives a
// static binary whose healthcheck works.
package deploy

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/node"
)

// readJSONYAML reads a manifest written as JSON (valid YAML) with '#'
// comment lines: the comments are dropped and the rest decoded strictly.
// The repository has no YAML dependency, and adding one for examples
// would cost more than writing them in the JSON subset of YAML.
func readJSONYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for l := range strings.SplitSeq(string(b), "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			keep = append(keep, l)
		}
	}
	dec := json.NewDecoder(strings.NewReader(strings.Join(keep, "\n")))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if dec.More() {
		t.Fatalf("%s: more than one document", path)
	}
	return m
}

// at walks m along keys (map keys, or "0"... for list items).
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		switch c := v.(type) {
		case map[string]any:
			v = c[k]
		case []any:
			var i int
			if err := json.Unmarshal([]byte(k), &i); err != nil || i >= len(c) {
				t.Fatalf("no item %s", k)
			}
			v = c[i]
		default:
			t.Fatalf("%v: no %q (path %v)", v, k, keys)
		}
	}
	return v
}

func number(t *testing.T, v any) time.Duration {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v is not a number", v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return time.Duration(i) * time.Second
}

// envOr returns the value of an env entry of the container, parsed as a
// duration, or def.
func envOr(t *testing.T, envs []any, name string, def time.Duration) time.Duration {
	t.Helper()
	for _, e := range envs {
		e := e.(map[string]any)
		if e["name"] == name {
			d, err := time.ParseDuration(e["value"].(string))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			return d
		}
	}
	return def
}

// TestKubernetesManifests: every manifest parses; the Deployment routes by
// /readyz and its preStop sleep plus the node's whole drain fit in
// terminationGracePeriodSeconds; the PodDisruptionBudget and the Service
// select the Deployment's pods.
func TestKubernetesManifests(t *testing.T) {
	files, _ := filepath.Glob("k8s/*.yaml")
	kinds := map[string]map[string]any{}
	for _, f := range files {
		m := readJSONYAML(t, f)
		kinds[m["kind"].(string)] = m
	}
	for _, k := range []string{"Deployment", "PodDisruptionBudget", "Service"} {
		if kinds[k] == nil {
			t.Fatalf("no %s in deploy/k8s", k)
		}
	}
	d := kinds["Deployment"]
	spec := at(t, d, "spec", "template", "spec")
	c := at(t, spec, "containers", "0")
	if p := at(t, c, "readinessProbe", "httpGet", "path"); p != "/readyz" {
		t.Errorf("readiness probe on %v, want /readyz", p)
	}
	envs := at(t, c, "env").([]any)
	drain := envOr(t, envs, "GATEWAY_DRAIN_DELAY", node.DefaultDrainDelay)
	spread := envOr(t, envs, "GATEWAY_CLOSE_SPREAD", node.DefaultCloseSpread)
	preStop := number(t, at(t, c, "lifecycle", "preStop", "sleep", "seconds"))
	grace := number(t, at(t, spec, "terminationGracePeriodSeconds"))
	need := preStop + drain + spread + node.ShutdownGrace
	if grace < need {
		t.Errorf("terminationGracePeriodSeconds %v < preStop %v + drain %v + spread %v + grace %v", grace, preStop, drain, spread, node.ShutdownGrace)
	}
	if preStop <= 0 {
		t.Error("no preStop sleep: load balancers may still route to a stopping pod")
	}
	labels := at(t, d, "spec", "template", "metadata", "labels").(map[string]any)
	for name, sel := range map[string]any{
		"Deployment": at(t, d, "spec", "selector", "matchLabels"),
		"PDB":        at(t, kinds["PodDisruptionBudget"], "spec", "selector", "matchLabels"),
		"Service":    at(t, kinds["Service"], "spec", "selector"),
	} {
		for k, v := range sel.(map[string]any) {
			if labels[k] != v {
				t.Errorf("%s selects %s=%v, pods have %v", name, k, v, labels[k])
			}
		}
	}
	if at(t, spec, "securityContext", "runAsNonRoot") != true {
		t.Error("pods may run as root")
	}
}

// TestCompose: the compose file parses and has what the issue asks for:
// Redis with AOF, a replica, three Sentinels, two gateways on Sentinel and
// a load balancer, with stop grace periods that fit the drain.
func TestCompose(t *testing.T) {
	m := readJSONYAML(t, "compose.yaml")
	svcs := at(t, m, "services").(map[string]any)
	cmd := func(name string) string {
		b, _ := json.Marshal(at(t, svcs, name, "command"))
		return string(b)
	}
	if !strings.Contains(cmd("redis"), `"--appendonly","yes"`) {
		t.Error("redis without AOF")
	}
	if !strings.Contains(cmd("redis-replica"), `"--replicaof","redis"`) {
		t.Error("no replica of redis")
	}
	for _, s := range []string{"sentinel1", "sentinel2", "sentinel3"} {
		if !strings.Contains(cmd(s), "sentinel monitor mymaster redis 6379 2") {
			t.Errorf("%s does not monitor redis with quorum 2", s)
		}
	}
	for _, g := range []string{"gateway1", "gateway2"} {
		env := at(t, svcs, g, "environment").(map[string]any)
		if env["GATEWAY_REDIS_MODE"] != "sentinel" || !strings.Contains(env["GATEWAY_REDIS_URL"].(string), "master_name=mymaster") {
			t.Errorf("%s is not on the Sentinels: %v", g, env)
		}
		stop, err := time.ParseDuration(at(t, svcs, g, "stop_grace_period").(string))
		if err != nil || stop < node.DefaultDrainDelay+node.DefaultCloseSpread+node.ShutdownGrace {
			t.Errorf("%s: stop_grace_period %v (%v) does not fit the drain", g, stop, err)
		}
	}
	if v := at(t, svcs, "lb", "volumes", "0").(string); !strings.HasPrefix(v, "./nginx.conf:") {
		t.Errorf("lb does not mount nginx.conf: %s", v)
	}
}

// TestNginxSnippet: WebSocket upgrades are passed on, SSE is not
// buffered, and read timeouts exceed the 25 s ping interval.
func TestNginxSnippet(t *testing.T) {
	b, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(b)
	for _, want := range []string{
		"proxy_set_header Upgrade $http_upgrade;", "proxy_set_header Connection $connection_upgrade;",
		"proxy_http_version 1.1;", "proxy_buffering off;", "proxy_read_timeout 120s;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	if strings.Count(conf, "{") != strings.Count(conf, "}") {
		t.Error("nginx.conf: unbalanced braces")
	}
}

// dockerfileBuild returns the Dockerfile's `RUN CGO_ENABLED=0 go build`
// command and checks the image's shape: multi-stage, non-root, health check.
func dockerfileBuild(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	var build string
	var stages int
	var user, health bool
	for l := range strings.SplitSeq(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "FROM "):
			stages++
		case strings.HasPrefix(l, "RUN CGO_ENABLED=0 go build "):
			build = strings.TrimPrefix(l, "RUN ")
		case strings.HasPrefix(l, "USER ") && !strings.HasPrefix(l, "USER 0") && !strings.HasPrefix(l, "USER root"):
			user = true
		case strings.HasPrefix(l, "HEALTHCHECK ") && strings.Contains(l, `"healthcheck"`):
			health = true
		}
	}
	if build == "" || stages < 2 || !user || !health {
		t.Fatalf("Dockerfile: build %q, %d stages, non-root user %v, healthcheck %v", build, stages, user, health)
	}
	return build
}

// TestDockerfileBuildStep runs the Dockerfile's build step as a script
// (from the repository root, into a temporary directory instead of /out),
// checks that the binary is static, and runs `gateway healthcheck`
// against a test server, as the image's HEALTHCHECK does.
func TestDockerfileBuildStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway")
	}
	out := filepath.Join(t.TempDir(), "gateway")
	script := strings.ReplaceAll(dockerfileBuild(t), "/out/gateway", out)
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = ".."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, b)
	}
	info, err := exec.Command("go", "version", "-m", out).CombinedOutput()
	if err != nil || !bytes.Contains(info, []byte("CGO_ENABLED=0")) || !bytes.Contains(info, []byte("-trimpath=true")) {
		t.Fatalf("go version -m: %v\n%s", err, info)
	}
	if _, err := exec.LookPath("file"); err == nil {
		f, _ := exec.Command("file", out).CombinedOutput()
		if !bytes.Contains(f, []byte("statically linked")) {
			t.Fatalf("not static: %s", f)
		}
	}
	var status atomic.Int64
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	hc := exec.Command(out, "healthcheck")
	hc.Env = append(os.Environ(), "GATEWAY_ADDR="+srv.Listener.Addr().String())
	if b, err := hc.CombinedOutput(); err != nil || strings.TrimSpace(string(b)) != "ok" {
		t.Fatalf("healthcheck: %v %s", err, b)
	}
	status.Store(http.StatusServiceUnavailable)
	hc = exec.Command(out, "healthcheck", "-url", srv.URL+"/healthz")
	if b, err := hc.CombinedOutput(); err == nil {
		t.Fatalf("healthcheck passes on 503: %s", b)
	}
}

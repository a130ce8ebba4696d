// Package deploy holds the example deployment files (Dockerfile at the
// repository root, compose.yaml, k8s/, nginx.conf). Docker and Kubernetes
// are not available to the tests, so these tests validate what can be
// validated offline: the manifests parse, their numbers agree with the
// node's drain, and the Dockerfile's build step, run as a script, gives a
// static binary whose healthcheck works.
package deploy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/api"
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
// (in a copy of the build context that leaves out what .dockerignore
// excludes, with the build stage's ENV settings, into a temporary
// directory instead of /out), checks that the
// binary is static, and runs `gateway healthcheck` against a test
// server, as the image's HEALTHCHECK does.
func TestDockerfileBuildStep(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the gateway")
	}
	out := filepath.Join(t.TempDir(), "gateway")
	script := strings.ReplaceAll(dockerfileBuild(t), "/out/gateway", out)
	cmd := exec.Command("sh", "-c", script)
	cmd.Dir = dockerContext(t, "..")
	cmd.Env = append(os.Environ(), dockerfileBuildEnv(t)...)
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

// deployment returns the Deployment's pod labels and its gateway container.
func deployment(t *testing.T) (labels, container map[string]any) {
	t.Helper()
	tmpl := at(t, readJSONYAML(t, "k8s/deployment.yaml"), "spec", "template")
	return at(t, tmpl, "metadata", "labels").(map[string]any), at(t, tmpl, "spec", "containers", "0").(map[string]any)
}

// envValue returns the literal value of the container's env entry name
// ("" when absent or not literal).
func envValue(envs []any, name string) string {
	for _, e := range envs {
		if e := e.(map[string]any); e["name"] == name {
			v, _ := e["value"].(string)
			return v
		}
	}
	return ""
}

// TestKubernetesHardening: the admin port (metrics) is reachable only
// from the monitoring namespace's scraper (a NetworkPolicy) and serves no
// pprof; the image is pinned to a version; GOMEMLIMIT sits just under the
// memory limit; and only one of preStop and the drain delay waits for
// load balancers to notice the pod leaving.
func TestKubernetesHardening(t *testing.T) {
	podLabels, c := deployment(t)
	envs := at(t, c, "env").([]any)
	if v := envValue(envs, "GATEWAY_ADMIN_PPROF"); v == "true" || v == "1" {
		t.Error("the Deployment serves pprof on its admin port")
	}
	if img := c["image"].(string); !pinned(img) {
		t.Errorf("image %q is not pinned to a version tag or digest", img)
	}

	limit := quantity(t, at(t, c, "resources", "limits", "memory").(string))
	gml := envValue(envs, "GOMEMLIMIT")
	if gml == "" {
		t.Errorf("no GOMEMLIMIT under the %d-byte memory limit: the GC does not see the limit coming", limit)
	} else if n := quantity(t, strings.TrimSuffix(gml, "B")); n < limit*80/100 || n > limit*95/100 {
		t.Errorf("GOMEMLIMIT %s is %d bytes, want 80-95%% of the memory limit %d", gml, n, limit)
	}

	drain := envOr(t, envs, "GATEWAY_DRAIN_DELAY", node.DefaultDrainDelay)
	preStop := number(t, at(t, c, "lifecycle", "preStop", "sleep", "seconds"))
	if preStop > 0 && drain > time.Second {
		t.Errorf("preStop sleeps %v and GATEWAY_DRAIN_DELAY waits %v more for the same thing: keep one", preStop, drain)
	}

	policy := readJSONYAML(t, "k8s/networkpolicy.yaml")
	if policy["kind"] != "NetworkPolicy" {
		t.Fatalf("k8s/networkpolicy.yaml is a %v", policy["kind"])
	}
	for k, v := range at(t, policy, "spec", "podSelector", "matchLabels").(map[string]any) {
		if podLabels[k] != v {
			t.Errorf("NetworkPolicy selects %s=%v, pods have %v", k, v, podLabels[k])
		}
	}
	if types, _ := json.Marshal(at(t, policy, "spec", "policyTypes")); !strings.Contains(string(types), `"Ingress"`) {
		t.Errorf("NetworkPolicy policyTypes %s: Ingress is not restricted", types)
	}
	adminOpen, httpOpen := false, false
	for _, r := range at(t, policy, "spec", "ingress").([]any) {
		r := r.(map[string]any)
		from, _ := r["from"].([]any)
		ports, _ := r["ports"].([]any)
		covers := func(name string, num int) bool {
			if len(ports) == 0 {
				return true // a rule without ports allows them all
			}
			for _, p := range ports {
				switch v := p.(map[string]any)["port"].(type) {
				case string:
					if v == name {
						return true
					}
				case json.Number:
					if v.String() == strconv.Itoa(num) {
						return true
					}
				}
			}
			return false
		}
		if covers("admin", 9090) && len(from) == 0 {
			adminOpen = true
		}
		if covers("http", 8080) {
			httpOpen = true
		}
	}
	if adminOpen {
		t.Error("NetworkPolicy lets any peer reach the admin port")
	}
	if !httpOpen {
		t.Error("NetworkPolicy does not allow the public port")
	}
}

// pinned reports whether an image reference names a digest, or a tag
// other than latest.
func pinned(img string) bool {
	if strings.Contains(img, "@sha256:") {
		return true
	}
	slash := strings.LastIndexByte(img, '/')
	colon := strings.LastIndexByte(img, ':')
	return colon > slash && img[colon+1:] != "latest" && img[colon+1:] != ""
}

// quantity parses a Kubernetes memory quantity (or a GOMEMLIMIT without
// its B): an integer with an optional Ki/Mi/Gi/Ti or k/M/G suffix.
func quantity(t *testing.T, s string) int64 {
	t.Helper()
	units := []struct {
		suffix string
		mult   int64
	}{{"Ki", 1 << 10}, {"Mi", 1 << 20}, {"Gi", 1 << 30}, {"Ti", 1 << 40}, {"k", 1e3}, {"M", 1e6}, {"G", 1e9}}
	mult := int64(1)
	for _, u := range units {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = v, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("quantity %q: %v", s, err)
	}
	return n * mult
}

// TestComposeHardening: Redis, its replica and the Sentinels require a
// password (the ingest stream is on: whoever reaches Redis could publish
// to any user) taken from the environment, the gateways' URL carries it,
// nothing serves pprof, and every image is pinned to a version.
func TestComposeHardening(t *testing.T) {
	m := readJSONYAML(t, "compose.yaml")
	svcs := at(t, m, "services").(map[string]any)
	text := func(v any) string {
		b, _ := json.Marshal(v)
		return string(b)
	}
	const secret = "${REDIS_PASSWORD"
	for name, want := range map[string][]string{
		"redis":         {`"--requirepass","` + secret, `"--masterauth","` + secret},
		"redis-replica": {`"--requirepass","` + secret, `"--masterauth","` + secret},
		"sentinel1":     {"requirepass", "sentinel auth-pass mymaster"},
		"sentinel2":     {"requirepass", "sentinel auth-pass mymaster"},
		"sentinel3":     {"requirepass", "sentinel auth-pass mymaster"},
	} {
		svc := text(at(t, svcs, name))
		for _, w := range want {
			if !strings.Contains(svc, w) {
				t.Errorf("%s lacks %s", name, w)
			}
		}
		if strings.HasPrefix(name, "sentinel") && !strings.Contains(svc, secret) {
			t.Errorf("%s does not take its password from REDIS_PASSWORD", name)
		}
	}
	for _, g := range []string{"gateway1", "gateway2"} {
		env := at(t, svcs, g, "environment").(map[string]any)
		u := env["GATEWAY_REDIS_URL"].(string)
		if !strings.Contains(u, "password="+secret) || !strings.Contains(u, "://:"+secret) {
			t.Errorf("%s: GATEWAY_REDIS_URL %s lacks the Redis and Sentinel password", g, u)
		}
		if v := env["GATEWAY_ADMIN_PPROF"]; v == "true" {
			t.Errorf("%s serves pprof", g)
		}
	}
	for name, s := range svcs {
		if img, ok := s.(map[string]any)["image"].(string); ok && !pinned(img) {
			t.Errorf("%s: image %q is not pinned to a version", name, img)
		}
	}
}

// nginxBlocks returns the directives of the server block (key "") and of
// each location block (key: its modifier and path, e.g. "= /v1/ws").
func nginxBlocks(conf string) map[string]map[string]string {
	blocks := map[string]map[string]string{"": {}}
	cur := ""
	for l := range strings.SplitSeq(conf, "\n") {
		l = strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(l, "location ") && strings.HasSuffix(l, "{"):
			cur = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(l, "location "), "{"))
			blocks[cur] = map[string]string{}
		case l == "}":
			cur = ""
		case strings.HasSuffix(l, ";"):
			if k, v, ok := strings.Cut(strings.TrimSuffix(l, ";"), " "); ok {
				blocks[cur][k] = strings.TrimSpace(v)
			}
		}
	}
	return blocks
}

// nginxLocation returns the block nginx picks for path (nil: none).
func nginxLocation(blocks map[string]map[string]string, path string) map[string]string {
	return blocks[nginxLocationKey(blocks, path)]
}

// nginxLocationKey returns the key of the block nginx picks for path: an
// exact match, else the longest prefix ("" for none).
func nginxLocationKey(blocks map[string]map[string]string, path string) string {
	if _, ok := blocks["= "+path]; ok {
		return "= " + path
	}
	best, n := "", -1
	for k := range blocks {
		p := strings.TrimSpace(strings.TrimPrefix(k, "^~"))
		if k != "" && !strings.HasPrefix(k, "=") && strings.HasPrefix(path, p) && len(p) > n {
			best, n = k, len(p)
		}
	}
	return best
}

// nginxSize parses an nginx size ("8m", "512k", "1024").
func nginxSize(t *testing.T, s string) int64 {
	t.Helper()
	mult := int64(1)
	switch {
	case strings.HasSuffix(s, "m"), strings.HasSuffix(s, "M"):
		s, mult = s[:len(s)-1], 1<<20
	case strings.HasSuffix(s, "k"), strings.HasSuffix(s, "K"):
		s, mult = s[:len(s)-1], 1<<10
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("nginx size %q: %v", s, err)
	}
	return n * mult
}

// TestNginxBodyLimits: nginx lets through the largest bodies the gateway
// accepts (a batch of 8 MiB, a single alarm), so the gateway's own limits
// and error answers apply.
func TestNginxBodyLimits(t *testing.T) {
	b, err := os.ReadFile("nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	blocks := nginxBlocks(string(b))
	for path, want := range map[string]int64{"/v1/alarms/batch": api.DefaultMaxBatchBytes, "/v1/alarms": api.DefaultMaxBodyBytes} {
		loc := nginxLocation(blocks, path)
		if loc == nil {
			t.Fatalf("nginx.conf: no location serves %s", path)
		}
		size := cmp.Or(loc["client_max_body_size"], blocks[""]["client_max_body_size"], "1m") // nginx's default
		if got := nginxSize(t, size); got < want {
			t.Errorf("nginx.conf: %s bodies limited to %s, the gateway accepts %d bytes", path, size, want)
		}
	}
}

// TestImagesPinned: the Dockerfile's base images name a version (or a
// digest), not latest.
func TestImagesPinned(t *testing.T) {
	b, err := os.ReadFile("../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "FROM" && !pinned(f[1]) {
			t.Errorf("Dockerfile: %s is not pinned to a version", f[1])
		}
	}
}

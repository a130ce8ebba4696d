package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"reflect"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/node"
	"github.com/alarmgate/alarmgate/internal/testproc"
)

// realEnv is the environment of a deployment with a real Redis, whose
// secrets pass.
func realEnv(extra map[string]string) map[string]string {
	e := map[string]string{"GATEWAY_REDIS_URL": "redis://" + testproc.RedisAddr(),
		"GATEWAY_JWT_SECRET": "0123456789abcdef0", "GATEWAY_API_KEYS": longKey}
	for k, v := range extra {
		e[k] = v
	}
	return e
}

// TestBadValuesNameTheirVariable: each bad value is refused by
// loadConfigFrom, every problem on a line of its own that starts with the
// variable, in the order the variables are declared.
func TestBadValuesNameTheirVariable(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want []string // the problems, exactly
	}{
		{"negative hello timeout", map[string]string{"GATEWAY_HELLO_TIMEOUT": "-1s"},
			[]string{"GATEWAY_HELLO_TIMEOUT: must be at least 1ms (got -1s)"}},
		{"negative window", map[string]string{"GATEWAY_WINDOW": "-1"},
			[]string{"GATEWAY_WINDOW: must be at least 1 (got -1)"}},
		{"min replicas with the embedded Redis", map[string]string{"GATEWAY_MIN_REPLICAS": "1"},
			[]string{"GATEWAY_MIN_REPLICAS: the embedded Redis (no GATEWAY_REDIS_URL) has no replicas; leave it 0"}},
		{"every problem at once", map[string]string{"GATEWAY_WINDOW": "-1", "GATEWAY_HELLO_TIMEOUT": "-1s",
			"GATEWAY_QUEUE_LEN": "-3", "GATEWAY_STREAM_RETENTION": "1us", "GATEWAY_DRAIN_DELAY": "soon"},
			[]string{
				`GATEWAY_DRAIN_DELAY: unable to parse duration: time: invalid duration "soon"`,
				"GATEWAY_STREAM_RETENTION: must be at least 1ms (got 1µs)",
				"GATEWAY_WINDOW: must be at least 1 (got -1)",
				"GATEWAY_QUEUE_LEN: must be at least 1 (got -3)",
				"GATEWAY_HELLO_TIMEOUT: must be at least 1ms (got -1s)",
			}},
		{"rates and origins", map[string]string{"GATEWAY_CONNECT_RATE": "NaN", "GATEWAY_PUBLISH_BURST": "-1",
			"GATEWAY_ALLOWED_ORIGINS": "app.example.com,[x"},
			[]string{
				"GATEWAY_ALLOWED_ORIGINS: entry 2 (\"[x\") is not a valid pattern",
				"GATEWAY_CONNECT_RATE: must be a finite number (got NaN)",
				"GATEWAY_PUBLISH_BURST: must not be negative (got -1)",
			}},
		{"trusted proxies", map[string]string{"GATEWAY_TRUSTED_PROXIES": "10.0.0.0/8, lb"},
			[]string{`GATEWAY_TRUSTED_PROXIES: "lb" is neither an IP address nor a network in CIDR notation`}},
		{"trusted proxies with a stray comma", map[string]string{"GATEWAY_TRUSTED_PROXIES": "10.0.0.1,"},
			[]string{"GATEWAY_TRUSTED_PROXIES: entry 2 of 2 is empty (a stray comma?)"}},
		{"prefix, log format, ingest", map[string]string{"GATEWAY_REDIS_PREFIX": "a b", "GATEWAY_LOG_FORMAT": "xml",
			"GATEWAY_INGEST_BATCH": "-1", "GATEWAY_HTTP_IDLE_TIMEOUT": "-2m"},
			[]string{
				`GATEWAY_LOG_FORMAT: "xml": want text or json`,
				`GATEWAY_REDIS_PREFIX: "a b" must match ^[A-Za-z0-9_.:-]{1,64}$`,
				"GATEWAY_HTTP_IDLE_TIMEOUT: must be at least 1ms (got -2m0s)",
				"GATEWAY_INGEST_BATCH: must not be negative (got -1)",
			}},
		{"replica timeout beyond the call timeout", realEnv(map[string]string{"GATEWAY_MIN_REPLICAS": "1", "GATEWAY_REPLICA_TIMEOUT": "5s"}),
			[]string{"GATEWAY_REPLICA_TIMEOUT: must be below the Redis call timeout 3s when replicas are required (got 5s)"}},
		{"negative min replicas", realEnv(map[string]string{"GATEWAY_MIN_REPLICAS": "-1"}),
			[]string{"GATEWAY_MIN_REPLICAS: must not be negative (got -1)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadConfigFrom(tt.env)
			var ce *configError
			if !errors.As(err, &ce) {
				t.Fatalf("err = %v, want a configError", err)
			}
			if got := problemLines(err); !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestNodeFieldsMapToVariables: every node.Config path nodeFields names
// exists, and every config field it names has a variable.
func TestNodeFieldsMapToVariables(t *testing.T) {
	for path, field := range nodeFields {
		typ := reflect.TypeFor[node.Config]()
		for part := range strings.SplitSeq(path, ".") {
			f, ok := typ.FieldByName(part)
			if !ok {
				t.Errorf("%s: node.Config has no field %s", path, part)
				break
			}
			typ = f.Type
			if typ.Kind() == reflect.Pointer {
				typ = typ.Elem()
			}
		}
		if envName(field) == "" {
			t.Errorf("%s: config field %s has no variable", path, field)
		}
	}
}

// TestMinReplicasWithoutReplica: against a Redis without replicas,
// GATEWAY_MIN_REPLICAS=1 refuses to start (naming the variable) before
// the node listens, and check-config fails with the same line.
func TestMinReplicasWithoutReplica(t *testing.T) {
	addr := freeAddr(t)
	environ := realEnv(map[string]string{"GATEWAY_MIN_REPLICAS": "1", "GATEWAY_ADDR": addr,
		"GATEWAY_REDIS_PREFIX": "t-minreplicas-" + randomHex(4), "GATEWAY_INGEST": "false"})
	const want = "GATEWAY_MIN_REPLICAS: 1 required, but the primary has 0 replicas connected"
	var stderr bytes.Buffer
	err := serve(t.Context(), environ, &bytes.Buffer{}, &stderr)
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("serve: %v, want %q", err, want)
	}
	if strings.Contains(stderr.String(), "listening") {
		t.Fatalf("it listened before refusing:\n%s", stderr.String())
	}
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		_ = c.Close()
		t.Fatal("something listens on GATEWAY_ADDR")
	}
	var out bytes.Buffer
	err = cmdCheckConfig(t.Context(), environ, nil, &out, &bytes.Buffer{})
	if !errors.Is(err, errCheckFailed) || !strings.HasPrefix(out.String(), want) {
		t.Fatalf("check-config: %v\n%s", err, out.String())
	}
	environ["GATEWAY_MIN_REPLICAS"] = "0"
	out.Reset()
	if err := cmdCheckConfig(t.Context(), environ, nil, &out, &bytes.Buffer{}); err != nil || !strings.HasSuffix(out.String(), "OK\n") {
		t.Fatalf("check-config without replicas required: %v\n%s", err, out.String())
	}
}

func TestCheckConfig(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		ok      bool
		outputs []string // lines the output must contain
	}{
		{"embedded demo", map[string]string{}, true, []string{"OK"}},
		{"misspelled", map[string]string{"GATEWAY_WINDOWS": "5"}, true,
			[]string{"warning: GATEWAY_WINDOWS is not a variable the gateway reads; it is ignored (did you mean GATEWAY_WINDOW?)", "OK"}},
		{"bad values", map[string]string{"GATEWAY_WINDOW": "-1", "GATEWAY_HELLO_TIMEOUT": "-1s"}, false,
			[]string{"GATEWAY_WINDOW: must be at least 1 (got -1)", "GATEWAY_HELLO_TIMEOUT: must be at least 1ms (got -1s)"}},
		{"unreachable Redis", realEnv(map[string]string{"GATEWAY_REDIS_URL": "redis://" + freeAddr(t)}), false,
			[]string{"GATEWAY_REDIS_URL: Redis did not answer"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := cmdCheckConfig(t.Context(), tt.env, nil, &out, &bytes.Buffer{})
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v\n%s", err, tt.ok, out.String())
			}
			for _, want := range tt.outputs {
				if !strings.Contains(out.String(), want) {
					t.Errorf("output lacks %q:\n%s", want, out.String())
				}
			}
		})
	}
}

func TestUnknownVariables(t *testing.T) {
	got := unknownVariables(map[string]string{
		"GATEWAY_WINDOWS": "1", "GATEWAY_JWT_SECERT": "x", "GATEWAY_SOMETHING_ELSE": "x",
		"GATEWAY_WINDOW": "1", "GATEWAY_API_KEY": "k", "GATEWAY_TOKEN": "t", "GATEWAY_TEST_REDIS": "r", "PATH": "/bin",
	})
	want := []string{
		"GATEWAY_JWT_SECERT is not a variable the gateway reads; it is ignored (did you mean GATEWAY_JWT_SECRET?)",
		"GATEWAY_SOMETHING_ELSE is not a variable the gateway reads; it is ignored",
		"GATEWAY_WINDOWS is not a variable the gateway reads; it is ignored (did you mean GATEWAY_WINDOW?)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestDemoStopsAtOnce: the embedded demo has no drain delay nor close
// spread unless they are set; a real deployment keeps the defaults.
func TestDemoStopsAtOnce(t *testing.T) {
	tests := []struct {
		name          string
		env           map[string]string
		drain, spread time.Duration
	}{
		{"demo", map[string]string{}, node.NoDelay, node.NoDelay},
		{"demo with a drain delay", map[string]string{"GATEWAY_DRAIN_DELAY": "2s"}, 2 * time.Second, node.NoDelay},
		{"demo with a close spread", map[string]string{"GATEWAY_CLOSE_SPREAD": "3s"}, node.NoDelay, 3 * time.Second},
		{"real Redis", realEnv(nil), node.DefaultDrainDelay, node.DefaultCloseSpread},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := loadConfigFrom(tt.env)
			if err != nil {
				t.Fatal(err)
			}
			n := nodeConfig(cfg)
			if n.DrainDelay != tt.drain || n.CloseSpread != tt.spread {
				t.Fatalf("drain %v, spread %v; want %v, %v", n.DrainDelay, n.CloseSpread, tt.drain, tt.spread)
			}
		})
	}
}

func TestVersionText(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Path: "github.com/alarmgate/alarmgate", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-01-02T03:04:05Z"},
			{Key: "vcs.modified", Value: "true"}}}
	got := versionText(bi, true)
	for _, want := range []string{"gateway github.com/alarmgate/alarmgate v1.2.3\n", "commit abc123 (modified) 2026-01-02T03:04:05Z\n", "go go1.26.8 "} {
		if !strings.Contains(got, want) {
			t.Errorf("version text lacks %q:\n%s", want, got)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"version"}, &out, &out); err != nil || !strings.HasPrefix(out.String(), "gateway ") {
		t.Fatalf("gateway version: %v %q", err, out.String())
	}
}

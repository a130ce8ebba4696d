package main

import (
	"bufio"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/alarmgate/alarmgate/internal/api"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/node"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/ws"
)

// configDefaults is every GATEWAY_* variable with the default it must have:
// the Default… constant of the package that owns the setting, or the
// literal where cmd/gateway itself owns it. nil: no envDefault (the
// variable is optional or required; docs/configuration.md explains it).
var configDefaults = map[string]any{
	"GATEWAY_ADDR":               "127.0.0.1:8080",
	"GATEWAY_REDIS_URL":          nil,
	"GATEWAY_REDIS_MODE":         "single",
	"GATEWAY_REDIS_PREFIX":       stream.DefaultPrefix,
	"GATEWAY_PARTITIONS":         int64(stream.DefaultPartitions),
	"GATEWAY_MIN_REPLICAS":       int64(0),
	"GATEWAY_REPLICA_TIMEOUT":    stream.DefaultReplicaTimeout,
	"GATEWAY_JWT_SECRET":         nil,
	"GATEWAY_API_KEYS":           nil,
	"GATEWAY_NODE_ID":            nil,
	"GATEWAY_STREAM_MAXLEN":      int64(stream.DefaultMaxLen),
	"GATEWAY_CHANNEL_HISTORY":    int64(stream.DefaultChannelBacklog),
	"GATEWAY_STREAM_RETENTION":   stream.DefaultRetention,
	"GATEWAY_INBOX_RETENTION":    stream.DefaultInboxRetention,
	"GATEWAY_DRAIN_DELAY":        node.DefaultDrainDelay,
	"GATEWAY_CLOSE_SPREAD":       node.DefaultCloseSpread,
	"GATEWAY_HTTP_READ_TIMEOUT":  node.DefaultReadTimeout,
	"GATEWAY_HTTP_IDLE_TIMEOUT":  node.DefaultIdleTimeout,
	"GATEWAY_WINDOW":             int64(hub.DefaultWindow),
	"GATEWAY_QUEUE_LEN":          int64(hub.DefaultQueueLen),
	"GATEWAY_MAX_ALARM_BYTES":    int64(stream.DefaultMaxAlarmBytes),
	"GATEWAY_ALLOWED_ORIGINS":    nil,
	"GATEWAY_HELLO_TIMEOUT":      ws.DefaultHelloTimeout,
	"GATEWAY_PING_INTERVAL":      ws.DefaultPingInterval,
	"GATEWAY_MAX_CONNECTIONS":    int64(limit.DefaultMaxConnections),
	"GATEWAY_CONNECT_RATE":       limit.DefaultConnectRate,
	"GATEWAY_CONNECT_BURST":      int64(limit.DefaultConnectBurst),
	"GATEWAY_TRUSTED_PROXIES":    nil,
	"GATEWAY_PUBLISH_RATE":       api.DefaultPublishRate,
	"GATEWAY_PUBLISH_BURST":      int64(api.DefaultPublishBurst),
	"GATEWAY_DEMO":               nil,
	"GATEWAY_DEMO_WS":            nil,
	"GATEWAY_PPROF_ADDR":         nil,
	"GATEWAY_PPROF_ALLOW_REMOTE": nil,
	"GATEWAY_LOG_FORMAT":         "text",
	"GATEWAY_LOG_LEVEL":          slog.LevelInfo,
	// OpsConfig (ops.go)
	"GATEWAY_JWKS_URL":           nil,
	"GATEWAY_JWT_AUDIENCE":       nil,
	"GATEWAY_JWT_ISSUER":         nil,
	"GATEWAY_REDIS_CA_FILE":      nil,
	"GATEWAY_REDIS_CERT_FILE":    nil,
	"GATEWAY_REDIS_KEY_FILE":     nil,
	"GATEWAY_TLS_CERT_FILE":      nil,
	"GATEWAY_TLS_KEY_FILE":       nil,
	"GATEWAY_ADMIN_ADDR":         nil,
	"GATEWAY_ADMIN_ALLOW_REMOTE": nil,
	"GATEWAY_ADMIN_PPROF":        nil,
	// ingest (docs/ingest.md)
	"GATEWAY_INGEST":                true,
	"GATEWAY_INGEST_BATCH":          int64(ingest.DefaultBatchSize),
	"GATEWAY_INGEST_CLAIM_IDLE":     ingest.DefaultClaimIdle,
	"GATEWAY_INGEST_PUBSUB_CHANNEL": nil,
	// Per-user limits.
	"GATEWAY_USER_STATE_RATE":       limit.DefaultUserStateRate,
	"GATEWAY_USER_STATE_BURST":      int64(limit.DefaultUserStateBurst),
	"GATEWAY_USER_INBOX_READ_RATE":  limit.DefaultUserInboxReadRate,
	"GATEWAY_USER_INBOX_READ_BURST": int64(limit.DefaultUserInboxReadBurst),
}

// sameDefault reports whether s, an envDefault tag or a cell of the docs,
// denotes want.
func sameDefault(s string, want any) (bool, error) {
	switch want := want.(type) {
	case string:
		return s == want, nil
	case int64:
		n, err := strconv.ParseInt(s, 10, 64)
		return n == want, err
	case float64:
		f, err := strconv.ParseFloat(s, 64)
		return f == want, err
	case time.Duration:
		d, err := time.ParseDuration(s)
		return d == want, err
	case bool:
		b, err := strconv.ParseBool(s)
		return b == want, err
	case slog.Level:
		var l slog.Level
		err := l.UnmarshalText([]byte(s))
		return l == want, err
	}
	return false, fmt.Errorf("no comparison for %T", want)
}

// TestConfigDefaults checks each envDefault against the constant it must
// equal.
func TestConfigDefaults(t *testing.T) {
	params, err := env.GetFieldParams(&config{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range params {
		seen[p.Key] = true
		want, ok := configDefaults[p.Key]
		switch {
		case !ok:
			t.Errorf("%s: not in configDefaults; add it with the constant it must equal", p.Key)
		case want == nil && p.HasDefaultValue:
			t.Errorf("%s: envDefault %q, want none", p.Key, p.DefaultValue)
		case want != nil && !p.HasDefaultValue:
			t.Errorf("%s: no envDefault, want %v", p.Key, want)
		case want != nil:
			if same, err := sameDefault(p.DefaultValue, want); !same {
				t.Errorf("%s: envDefault %q, want %v (%v)", p.Key, p.DefaultValue, want, err)
			}
		}
	}
	for k := range configDefaults {
		if !seen[k] {
			t.Errorf("%s: in configDefaults but not in config", k)
		}
	}
}

// TestConfigDocs checks that docs/configuration.md lists every variable
// with the default of its envDefault.
func TestConfigDocs(t *testing.T) {
	docs := docsVariables(t, "../../docs/configuration.md")
	params, err := env.GetFieldParams(&config{})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, p := range params {
		listed[p.Key] = true
		row, ok := docs[p.Key]
		cell := row.def
		switch {
		case !ok:
			t.Errorf("%s: missing from docs/configuration.md", p.Key)
		case p.HasDefaultValue:
			v, code := strings.CutPrefix(cell, "`")
			v, end := strings.CutSuffix(v, "`")
			if !code || !end {
				t.Errorf("%s: docs default %q, want `%s`", p.Key, cell, p.DefaultValue)
				continue
			}
			if same, err := sameDefault(v, configDefaults[p.Key]); !same {
				t.Errorf("%s: docs default %q, want `%s` (%v)", p.Key, cell, p.DefaultValue, err)
			}
		case strings.HasPrefix(cell, "`"):
			t.Errorf("%s: docs give the default %s but config has no envDefault", p.Key, cell)
		}
	}
	for k := range docs {
		if !listed[k] {
			t.Errorf("%s: documented but not read by config", k)
		}
	}
	if m := docs["GATEWAY_JWT_SECRET"].meaning; !strings.Contains(m, fmt.Sprintf("at least %d bytes", auth.MinSecretLen)) {
		t.Errorf("GATEWAY_JWT_SECRET: docs %q do not say at least auth.MinSecretLen (%d) bytes", m, auth.MinSecretLen)
	}
}

// docsRow is one row of the variables table of docs/configuration.md.
type docsRow struct{ def, meaning string }

// docsVariables parses the "| `GATEWAY_X` | default | meaning |" rows of
// the variables table.
func docsVariables(t *testing.T, path string) map[string]docsRow {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]docsRow{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		cells := strings.Split(sc.Text(), " | ")
		if len(cells) < 3 || !strings.HasPrefix(cells[0], "| `GATEWAY_") {
			continue
		}
		name := strings.Trim(strings.TrimPrefix(cells[0], "| "), "`")
		out[name] = docsRow{def: strings.TrimSpace(cells[1]), meaning: strings.Join(cells[2:], " | ")}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no variables table found", path)
	}
	return out
}

// Settled in issue 10: a Redis URL that routes reads to replicas is refused.
func TestRedisClientRefusesReplicaReads(t *testing.T) {
	tests := []struct {
		mode, url string
		ok        bool
	}{
		{"single", "redis://127.0.0.1:6379/0", true},
		{"cluster", "redis://127.0.0.1:7000?addr=127.0.0.1:7001", true},
		{"cluster", "redis://127.0.0.1:7000?read_only=true", false},
		{"cluster", "redis://127.0.0.1:7000?route_randomly=true", false},
		{"sentinel", "redis://127.0.0.1:26379?master_name=m", true},
		{"sentinel", "redis://127.0.0.1:26379?master_name=m&replica_only=true", false},
	}
	for _, tt := range tests {
		c := config{RedisMode: tt.mode, RedisURL: tt.url}
		rdb, err := c.redisClient()
		if rdb != nil {
			_ = rdb.Close()
		}
		if (err == nil) != tt.ok {
			t.Errorf("%s %s: err %v, want ok=%v", tt.mode, tt.url, err, tt.ok)
		}
	}
}

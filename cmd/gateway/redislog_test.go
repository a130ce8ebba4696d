package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// lockedBuffer is a bytes.Buffer that go-redis's goroutines may write to.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// TestRedisLogsAsJSON: a line go-redis logs itself (here: it cannot dial)
// comes out as one JSON slog line at DEBUG with component=redis, and the
// URL's password is not in it.
func TestRedisLogsAsJSON(t *testing.T) {
	const password = "s3cret-pass"
	rawURL := "redis://alice:" + password + "@" + closedAddr(t) + "/0"
	var out lockedBuffer
	routeRedisLogs(slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})), rawURL)
	t.Cleanup(func() { routeRedisLogs(slog.Default(), "") })

	o, err := redis.ParseURL(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	o.DialerRetries, o.DialerRetryTimeout, o.MaxRetries = 1, time.Millisecond, -1
	rdb := redis.NewClient(o)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err == nil {
		t.Fatal("ping of a closed port succeeded")
	}

	var found bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if strings.Contains(line, password) {
			t.Fatalf("the password is in %q", line)
		}
		msg, _ := rec["msg"].(string)
		if rec["level"] == "DEBUG" && rec["component"] == "redis" && strings.Contains(msg, "failed to dial") {
			found = true
		}
	}
	if !found {
		t.Fatalf("no go-redis dial failure among the JSON lines:\n%s", out.String())
	}
}

// TestRedisLoggerRedacts: whatever form of the URL's user information a
// go-redis line quotes, it is redacted.
func TestRedisLoggerRedacts(t *testing.T) {
	var out bytes.Buffer
	l := redisLogger{log: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug})), rawURL: "rediss://bob:p%40ss@redis.example:6380/1"}
	l.Printf(context.Background(), "dial %s failed; auth %q; url %s", "p@ss", "bob:p%40ss", "rediss://bob:p%40ss@redis.example:6380/1")
	if s := out.String(); strings.Contains(s, "p@ss") || strings.Contains(s, "p%40ss") || !strings.Contains(s, "xxxxx") {
		t.Fatalf("not redacted: %s", s)
	}
}

// TestRedisLoggerLevel: below DEBUG (the level of its lines) go-redis's lines are not formatted.
func TestRedisLoggerLevel(t *testing.T) {
	var out bytes.Buffer
	l := redisLogger{log: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelInfo}))}
	l.Printf(context.Background(), "redis: %s", "notice")
	if out.Len() != 0 {
		t.Fatalf("logged below the level: %s", out.String())
	}
}

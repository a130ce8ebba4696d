package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/redis/go-redis/v9"
)

// redisLogger routes go-redis's own log lines (dial failures, pool, cluster
// and sentinel notices, which go-redis otherwise prints as plain text on
// stderr) to the gateway's slog logger: at DEBUG, with component=redis, and
// with the user information of the Redis URL redacted. With Redis
// unreachable go-redis writes several lines a second; the live feed logs
// the outage once (pubsub: lost Redis), so these stay below INFO.
type redisLogger struct {
	log    *slog.Logger
	rawURL string // GATEWAY_REDIS_URL; "" when the embedded Redis is used
}

// Printf implements go-redis's logger interface.
func (l redisLogger) Printf(ctx context.Context, format string, v ...any) {
	if !l.log.Enabled(ctx, slog.LevelDebug) {
		return
	}
	msg := strings.TrimSpace(fmt.Sprintf(format, v...))
	if l.rawURL != "" {
		msg = redactError(errors.New(msg), l.rawURL).Error()
	}
	l.log.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("component", "redis"))
}

// routeRedisLogs makes go-redis log through log. go-redis holds one logger
// for the whole process, so only serve calls this, once, before any
// client connects.
func routeRedisLogs(log *slog.Logger, rawURL string) {
	redis.SetLogger(redisLogger{log: log, rawURL: rawURL})
}

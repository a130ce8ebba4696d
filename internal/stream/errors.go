package stream

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// ErrUnavailable wraps failures that mean Redis cannot serve right now:
// timeouts, network errors, and LOADING / READONLY / MASTERDOWN /
// CLUSTERDOWN / TRYAGAIN / BUSY / NOREPLICAS replies. Callers answer 503.
var ErrUnavailable = errors.New("stream: redis unavailable")

// ErrTooLarge reports an alarm whose encoded tail exceeds MaxAlarmBytes.
var ErrTooLarge = errors.New("stream: alarm too large")

// unavailablePrefixes are Redis error codes of a server that is (for now)
// unable to serve, as opposed to a bad request. DEADLINE is state.lua's
// refusal of a call that reached Redis after its deadline (nothing written).
var unavailablePrefixes = []string{
	"DEADLINE", "LOADING", "READONLY", "MASTERDOWN", "CLUSTERDOWN", "TRYAGAIN", "BUSY", "NOREPLICAS",
}

// wrapErr adds op context and, for availability failures, ErrUnavailable
// (ErrDeadline, which wraps it, for a script's DEADLINE refusal).
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var rerr redis.Error
	if errors.As(err, &rerr) && strings.HasPrefix(strings.TrimPrefix(rerr.Error(), "ERR "), "DEADLINE ") {
		return fmt.Errorf("stream: %s: %w: %w", op, ErrDeadline, err) // a script's refusal
	}
	if isUnavailable(err) {
		return fmt.Errorf("stream: %s: %w: %w", op, ErrUnavailable, err)
	}
	return fmt.Errorf("stream: %s: %w", op, err)
}

// MarkUnavailable returns err marked with ErrUnavailable when it means
// Redis cannot serve right now (see ErrUnavailable), else err itself. The
// mark leaves err's text as it is. For callers outside this package that
// make Redis calls of their own (the Pub/Sub subscription).
func MarkUnavailable(err error) error {
	if err == nil || !isUnavailable(err) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return marked{ErrUnavailable, err}
}

// marked is err tagged with a sentinel that errors.Is finds but the text
// does not repeat.
type marked struct{ sentinel, err error }

func (m marked) Error() string   { return m.err.Error() }
func (m marked) Unwrap() []error { return []error{m.sentinel, m.err} }

func isUnavailable(err error) bool {
	switch {
	case errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		errors.Is(err, redis.ErrClosed), errors.Is(err, redis.ErrPoolTimeout),
		errors.Is(err, redis.ErrPoolExhausted):
		return true
	}
	var nerr net.Error
	if errors.As(err, &nerr) {
		return true
	}
	var rerr redis.Error
	if !errors.As(err, &rerr) {
		return false
	}
	msg := strings.TrimPrefix(rerr.Error(), "ERR ")
	for _, p := range unavailablePrefixes {
		// A script's redis.call error carries the code after a dash on
		// servers before 7.0 ("... -READONLY You can't write ...").
		if strings.HasPrefix(msg, p+" ") || msg == p || strings.Contains(msg, "-"+p+" ") {
			return true
		}
	}
	return false
}

// ErrIdemKeyReused reports an idempotency key already used, within
// IdemTTL, for a different alarm (another channel, event or data).
var ErrIdemKeyReused = errors.New("stream: idempotency key reused for a different alarm")

// ErrNotReplicated reports a publish that Redis stored on the primary but
// fewer than Config.MinReplicas replicas confirmed in time. The outcome is
// unknown (a failover may still lose it): it also wraps ErrUnavailable
// (503), and a retry with the same idempotency key is safe.
var ErrNotReplicated = errors.New("stream: not confirmed by enough replicas")

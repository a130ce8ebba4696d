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

// wrapErr adds op context, once: the error reads "stream: <op>: <err>".
// An availability failure is also ErrUnavailable (a script's DEADLINE
// refusal ErrDeadline, which is ErrUnavailable too) without repeating
// the sentinel's text.
func wrapErr(op string, err error) error {
	if err == nil {
		return nil
	}
	msg := "stream: " + op + ": " + err.Error()
	var rerr redis.Error
	if errors.As(err, &rerr) && strings.HasPrefix(strings.TrimPrefix(rerr.Error(), "ERR "), "DEADLINE ") {
		return tag(msg, ErrDeadline, err) // a script's refusal
	}
	if isUnavailable(err) {
		return tag(msg, ErrUnavailable, err)
	}
	return fmt.Errorf("stream: %s: %w", op, err)
}

// tagged is an error that reads msg and is (errors.Is, errors.As) each of
// is: it marks a cause with sentinels without repeating their text, so
// that a chain reads "stream: publish: dial tcp ...", not "stream:
// publish: stream: redis unavailable: dial tcp ...".
type tagged struct {
	msg string
	is  []error
}

// tag returns a *tagged; a pointer, so that a tagged sentinel compares by
// identity.
func tag(msg string, is ...error) error { return &tagged{msg: msg, is: is} }

func (t *tagged) Error() string   { return t.msg }
func (t *tagged) Unwrap() []error { return t.is }

// MarkUnavailable returns err marked with ErrUnavailable when it means
// Redis cannot serve right now (see ErrUnavailable), else err itself. The
// mark leaves err's text as it is. For callers outside this package that
// make Redis calls of their own (the Pub/Sub subscription).
func MarkUnavailable(err error) error {
	if err == nil || !isUnavailable(err) || errors.Is(err, ErrUnavailable) {
		return err
	}
	return tag(err.Error(), ErrUnavailable, err)
}

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

package api

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// apiError is one error answer: an HTTP status, a code and a message safe
// to show the caller. cause, when set, is logged for 5xx answers and never
// sent; retryAfter, when set, is sent as Retry-After.
type apiError struct {
	status     int
	code       protocol.ErrorCode
	message    string
	cause      error
	retryAfter time.Duration
	// hold is how long the answer waits before it is written (see
	// Config.RefusalHold); 0: at once.
	hold time.Duration
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.message }

// errorBody is the JSON shape of an error, in answers and batch items.
type errorBody struct {
	Code    protocol.ErrorCode `json:"code"`
	Message string             `json:"message"`
}

func (e *apiError) body() errorBody { return errorBody{Code: e.code, Message: e.message} }

func badRequest(code protocol.ErrorCode, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: msg}
}

func tooLarge(msg string) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: protocol.CodeTooLarge, message: msg}
}

// storeError maps an error of the Store to its answer.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, alarm.ErrInvalidChannel):
		return badRequest(protocol.CodeInvalidChannel, "channel must match ^[A-Za-z0-9_.:@-]{1,128}$")
	case errors.Is(err, alarm.ErrInvalidEvent):
		return badRequest(protocol.CodeInvalidEvent, "event must be 1..128 characters without control, format (bidi) or line separator characters")
	case errors.Is(err, alarm.ErrInvalidData):
		return badRequest(protocol.CodeInvalidData, "data must be a JSON value")
	case errors.Is(err, alarm.ErrInvalidIdemKey):
		return badRequest(protocol.CodeInvalidIdempotencyKey, "idempotency key must be 1..128 printable ASCII characters")
	case errors.Is(err, stream.ErrIdemKeyReused):
		return &apiError{status: http.StatusConflict, code: protocol.CodeIdempotencyKeyReused,
			message: "this idempotency key was used for a different alarm (channel, event or data); use a new key"}
	case errors.Is(err, stream.ErrTooLarge):
		return tooLarge("the encoded alarm exceeds the size limit")
	case errors.Is(err, stream.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, code: protocol.CodeUnavailable,
			message: "the alarm store is unavailable; retry later", cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: protocol.CodeInternal,
		message: "internal error", cause: err}
}

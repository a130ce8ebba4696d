package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// Error codes of the API, as they appear in {"error":{"code":...}}.
const (
	CodeUnauthorized     = "unauthorized"
	CodeUnsupportedMedia = "unsupported_media_type"
	CodeInvalidJSON      = "invalid_json"
	CodeUnknownField     = "unknown_field"
	CodeDuplicateField   = "duplicate_field"
	CodeMissingField     = "missing_field"
	CodeInvalidChannel   = "invalid_channel"
	CodeInvalidEvent     = "invalid_event"
	CodeInvalidData      = "invalid_data"
	CodeInvalidUTF8      = "invalid_utf8"
	CodeInvalidIdemKey   = "invalid_idempotency_key"
	CodeInvalidBatch     = "invalid_batch"
	CodeInvalidID        = "invalid_id"
	CodeInvalidLimit     = "invalid_limit"
	CodeTooLarge         = "too_large"
	CodeIdemKeyReused    = "idempotency_key_reused"
	CodeRateLimited      = "rate_limited"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// apiError is one error answer: an HTTP status, a code and a message safe
// to show the caller. cause, when set, is logged for 5xx answers and never
// sent.
type apiError struct {
	status  int
	code    string
	message string
	cause   error
}

func (e *apiError) Error() string { return e.code + ": " + e.message }

// errorBody is the JSON shape of an error, in answers and batch items.
type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *apiError) body() errorBody { return errorBody{Code: e.code, Message: e.message} }

func badRequest(code, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, code: code, message: msg}
}

func tooLarge(msg string) *apiError {
	return &apiError{status: http.StatusRequestEntityTooLarge, code: CodeTooLarge, message: msg}
}

// storeError maps an error of the Store to its answer.
func storeError(err error) *apiError {
	switch {
	case errors.Is(err, alarm.ErrInvalidChannel):
		return badRequest(CodeInvalidChannel, "channel must match ^[A-Za-z0-9_.:@-]{1,128}$")
	case errors.Is(err, alarm.ErrInvalidEvent):
		return badRequest(CodeInvalidEvent, "event must be 1..128 characters without control, format (bidi) or line separator characters")
	case errors.Is(err, alarm.ErrInvalidData):
		return badRequest(CodeInvalidData, "data must be a JSON value")
	case errors.Is(err, alarm.ErrInvalidIdemKey):
		return badRequest(CodeInvalidIdemKey, "idempotency key must be 1..128 printable ASCII characters")
	case errors.Is(err, stream.ErrIdemKeyReused):
		return &apiError{status: http.StatusConflict, code: CodeIdemKeyReused,
			message: "this idempotency key was used for a different alarm (channel, event or data); use a new key"}
	case errors.Is(err, stream.ErrTooLarge):
		return tooLarge("the encoded alarm exceeds the size limit")
	case errors.Is(err, stream.ErrUnavailable),
		errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return &apiError{status: http.StatusServiceUnavailable, code: CodeUnavailable,
			message: "the alarm store is unavailable; retry later", cause: err}
	}
	return &apiError{status: http.StatusInternalServerError, code: CodeInternal,
		message: "internal error", cause: err}
}

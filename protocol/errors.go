package protocol

// ErrorCode is the stable, machine-readable code of an error the gateway
// answers with: the "code" of an HTTP error body ({"error": {"code": ...,
// "message": ...}}), over the API and the SSE endpoints alike, and the
// "error" of a WebSocket error message (Error). The strings never change;
// new codes may be added, so a client treats an unknown code by its HTTP
// status. docs/protocol.md ("HTTP errors") lists when each one is sent.
type ErrorCode string

// Error codes. The comment names the HTTP status (or the WebSocket) that
// carries each one.
const (
	// Request body and fields (400).
	CodeInvalidJSON    ErrorCode = "invalid_json"    // body empty, not one JSON object, malformed, or a field of the wrong type
	CodeUnknownField   ErrorCode = "unknown_field"   // a field the endpoint does not know (names are case-sensitive)
	CodeDuplicateField ErrorCode = "duplicate_field" // a field given twice in one object
	CodeMissingField   ErrorCode = "missing_field"   // a required field is missing
	CodeInvalidUTF8    ErrorCode = "invalid_utf8"    // the body (or a batch item) is not valid UTF-8

	// Alarms (400).
	CodeInvalidChannel        ErrorCode = "invalid_channel"         // the channel does not match the grammar
	CodeInvalidEvent          ErrorCode = "invalid_event"           // the event is empty, too long or has forbidden characters
	CodeInvalidData           ErrorCode = "invalid_data"            // data is not a JSON value
	CodeInvalidIdempotencyKey ErrorCode = "invalid_idempotency_key" // not 1..128 printable ASCII, or in the wrong place
	CodeInvalidBatch          ErrorCode = "invalid_batch"           // alarms missing, empty, too many, or not objects

	// Queries (400).
	CodeInvalidID     ErrorCode = "invalid_id"     // an id parameter (after, before) is not an id
	CodeInvalidLimit  ErrorCode = "invalid_limit"  // limit is not an integer in range
	CodeInvalidFilter ErrorCode = "invalid_filter" // an inbox filter (unread, archived) is not true or false

	// Inbox state (400).
	CodeInvalidUser   ErrorCode = "invalid_user"   // the inbox's user is missing (API key) or not the token's own
	CodeInvalidChange ErrorCode = "invalid_change" // a malformed state change (op, ids, up_to)
	CodeNoInbox       ErrorCode = "no_inbox"       // the gateway or the connection keeps no inbox state (also over the WebSocket)

	// Access.
	CodeUnauthorized ErrorCode = "unauthorized" // 401: API key, token or SSE ticket missing, invalid or expired
	CodeForbidden    ErrorCode = "forbidden"    // 403: the SSE endpoints refused the page's Origin

	// Limits.
	CodeIdempotencyKeyReused ErrorCode = "idempotency_key_reused" // 409: the key was accepted before for a different alarm
	CodeTooLarge             ErrorCode = "too_large"              // 413: the body or the encoded alarm is over its limit
	CodeUnsupportedMediaType ErrorCode = "unsupported_media_type" // 415: a POST without Content-Type: application/json
	CodeRateLimited          ErrorCode = "rate_limited"           // 429: over the publish rate, the user's rate of state changes or inbox reads, or (SSE) the address's connect rate; retry after Retry-After (over the WebSocket: retry_after_ms)

	// Server side.
	CodeUnavailable ErrorCode = "unavailable" // 503: Redis cannot serve now, or (SSE) the node holds its maximum of connections; retry (also over the WebSocket)
	CodeInternal    ErrorCode = "internal"    // 500: anything else; the node logs it

	// CodeBadRequest answers, over the WebSocket only, a client message
	// that is not a JSON object with a type, or a malformed state change.
	CodeBadRequest ErrorCode = "bad_request"
)

// Error answers a client message the server refused, without closing the
// connection.
type Error struct {
	Type    string    `json:"type"`  // TypeError
	Error   ErrorCode `json:"error"` // CodeBadRequest, CodeNoInbox, CodeRateLimited or CodeUnavailable
	Message string    `json:"message"`
	// RetryAfterMS, with CodeRateLimited, is how long to wait before the
	// next change, in milliseconds.
	RetryAfterMS int64 `json:"retry_after_ms,omitempty"`
}

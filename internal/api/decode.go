package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/strictjson"
	"github.com/alarmgate/alarmgate/protocol"
)

// publishBody is the body of POST /v1/alarms. Pointers tell an absent
// field from an empty one.
type publishBody struct {
	Channel *string         `json:"channel"`
	Event   *string         `json:"event"`
	Data    json.RawMessage `json:"data"`
}

// batchItemBody is one element of a batch's "alarms".
type batchItemBody struct {
	publishBody
	IdempotencyKey *string `json:"idempotency_key"`
}

// batchBody is the body of POST /v1/alarms/batch. Items stay raw so that
// each one is decoded, and fails, on its own.
type batchBody struct {
	Alarms []json.RawMessage `json:"alarms"`
}

// maxEchoLen bounds how much of a caller's input an error message quotes.
const maxEchoLen = 64

// readBody reads a request body that http.MaxBytesReader already limits.
func readBody(r io.Reader) ([]byte, *apiError) {
	b, err := io.ReadAll(r)
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return nil, tooLarge(fmt.Sprintf("request body exceeds %d bytes", mbe.Limit))
	case err != nil:
		return nil, badRequest(protocol.CodeInvalidJSON, "could not read the request body")
	}
	return b, nil
}

// decodePublish decodes and validates the body of POST /v1/alarms. The
// idempotency key comes from the header, not from here.
func decodePublish(b []byte) (stream.PublishInput, *apiError) {
	var body publishBody
	if aerr := checkUTF8(b); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	if aerr := decodeObject(b, &body); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	return body.input()
}

// decodeBatch decodes the envelope of POST /v1/alarms/batch and checks it
// holds 1..max items. The items are decoded by decodeBatchItem.
func decodeBatch(b []byte, max int) ([]json.RawMessage, *apiError) {
	var body batchBody
	if aerr := decodeObject(b, &body); aerr != nil {
		return nil, aerr
	}
	switch {
	case len(body.Alarms) == 0:
		return nil, badRequest(protocol.CodeInvalidBatch, "alarms must be a non-empty array")
	case len(body.Alarms) > max:
		return nil, badRequest(protocol.CodeInvalidBatch, fmt.Sprintf("a batch holds at most %d alarms", max))
	}
	return body.Alarms, nil
}

// decodeBatchItem decodes and validates one batch item.
func decodeBatchItem(raw []byte) (stream.PublishInput, *apiError) {
	return decodeItem(raw, false)
}

// decodeItem is decodeBatchItem; valid says raw is known to be valid JSON
// (an element of an envelope decodeBatch accepted), so it is not checked
// again.
func decodeItem(raw []byte, valid bool) (stream.PublishInput, *apiError) {
	var body batchItemBody
	if aerr := checkUTF8(raw); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	if aerr := decodeChecked(raw, &body, valid || strictjson.Valid(raw)); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	in, aerr := body.input()
	if aerr != nil {
		return stream.PublishInput{}, aerr
	}
	if body.IdempotencyKey != nil {
		if !alarm.ValidIdemKey(*body.IdempotencyKey) {
			return stream.PublishInput{}, storeError(alarm.ErrInvalidIdemKey)
		}
		in.IdempotencyKey = *body.IdempotencyKey
	}
	return in, nil
}

// input validates the fields and builds the store's input; absent data is
// null.
func (p *publishBody) input() (stream.PublishInput, *apiError) {
	switch {
	case p.Channel == nil:
		return stream.PublishInput{}, badRequest(protocol.CodeMissingField, "channel is required")
	case !alarm.ValidChannel(*p.Channel):
		return stream.PublishInput{}, storeError(alarm.ErrInvalidChannel)
	case p.Event == nil:
		return stream.PublishInput{}, badRequest(protocol.CodeMissingField, "event is required")
	case !alarm.ValidEvent(*p.Event):
		return stream.PublishInput{}, storeError(alarm.ErrInvalidEvent)
	}
	data := p.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	return stream.PublishInput{Channel: *p.Channel, Event: *p.Event, Data: data}, nil
}

// checkUTF8 rejects a body that is not valid UTF-8. encoding/json would
// replace bad bytes in strings with U+FFFD but pass them through in a
// json.RawMessage, and browsers close a WebSocket on such a text frame, so
// nothing that is not valid UTF-8 may reach the store. The batch envelope
// is not checked as a whole: each item is, so one bad item fails alone.
func checkUTF8(b []byte) *apiError {
	if !utf8.Valid(b) {
		return badRequest(protocol.CodeInvalidUTF8, "the JSON text must be valid UTF-8")
	}
	return nil
}

// Member names of each body, checked by strictjson.CheckKeys.
var (
	publishNames   = strictjson.Names(publishBody{})
	batchItemNames = strictjson.Names(batchItemBody{})
	batchNames     = strictjson.Names(batchBody{})
	stateNames     = strictjson.Names(stateBody{})
)

// decodeObject decodes b, which must be exactly one JSON object with no
// unknown, duplicate or mis-cased member names, into v.
func decodeObject(b []byte, v any) *apiError {
	return decodeChecked(b, v, strictjson.Valid(b))
}

// decodeChecked is decodeObject once valid says whether b is valid JSON:
// only valid JSON may take the fast path, and one that fails it is not
// walked again before the slow one.
func decodeChecked(b []byte, v any, valid bool) *apiError {
	if valid && decodeFast(b, v) {
		return nil
	}
	return decodeSlow(b, v)
}

// decodeSlow is decodeObject through encoding/json and strictjson: it
// names what is wrong with b. decodeFast gives the same result for what
// it accepts, in one pass over b.
func decodeSlow(b []byte, v any) *apiError {
	trimmed := bytes.TrimLeft(b, " \t\r\n")
	if len(trimmed) == 0 {
		return badRequest(protocol.CodeInvalidJSON, "the body is empty")
	}
	if trimmed[0] != '{' {
		return badRequest(protocol.CodeInvalidJSON, "the body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return decodeError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(protocol.CodeInvalidJSON, "unexpected data after the JSON object")
	}
	return checkKeys(trimmed, v)
}

// checkKeys refuses what encoding/json lets through: a name given twice,
// or in another case than the field's ({"channel":"a","Channel":"b"}
// would publish to b).
func checkKeys(b []byte, v any) *apiError {
	var known []string
	switch v.(type) {
	case *publishBody:
		known = publishNames
	case *batchItemBody:
		known = batchItemNames
	case *batchBody:
		known = batchNames
	case *stateBody:
		known = stateNames
	default:
		known = strictjson.Names(v)
	}
	err := strictjson.CheckKeys(b, known, false)
	var ke *strictjson.KeyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ke) && errors.Is(err, strictjson.ErrDuplicate):
		return badRequest(protocol.CodeDuplicateField, "field "+quoteName(ke.Key)+" appears more than once")
	case errors.As(err, &ke) && errors.Is(err, strictjson.ErrCase):
		return badRequest(protocol.CodeUnknownField, "unknown field "+quoteName(ke.Key)+" (field names are case-sensitive)")
	case errors.As(err, &ke):
		return badRequest(protocol.CodeUnknownField, "unknown field "+quoteName(ke.Key))
	}
	return badRequest(protocol.CodeInvalidJSON, "invalid JSON")
}

// quoteName quotes a caller's member name for an error message.
func quoteName(s string) string {
	return strconv.Quote(truncate(s, maxEchoLen))
}

// decodeError maps an encoding/json error to an answer.
func decodeError(err error) *apiError {
	var synErr *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &synErr):
		return badRequest(protocol.CodeInvalidJSON, fmt.Sprintf("malformed JSON at byte %d", synErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest(protocol.CodeInvalidJSON, "truncated JSON")
	case errors.As(err, &typeErr):
		return fieldTypeError(typeErr.Field)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return badRequest(protocol.CodeUnknownField, "unknown field "+truncate(name, maxEchoLen))
	}
	return badRequest(protocol.CodeInvalidJSON, "invalid JSON")
}

// fieldTypeError answers a JSON value of the wrong type for a field. The
// field is a path ("publishBody.channel" for an embedded struct); its last
// element names it.
func fieldTypeError(field string) *apiError {
	if i := strings.LastIndexByte(field, '.'); i >= 0 {
		field = field[i+1:]
	}
	switch field {
	case "channel":
		return badRequest(protocol.CodeInvalidChannel, "channel must be a string")
	case "event":
		return badRequest(protocol.CodeInvalidEvent, "event must be a string")
	case "idempotency_key":
		return badRequest(protocol.CodeInvalidIdempotencyKey, "idempotency_key must be a string")
	case "alarms":
		return badRequest(protocol.CodeInvalidBatch, "alarms must be an array of objects")
	}
	return badRequest(protocol.CodeInvalidJSON, "a field has the wrong JSON type")
}

// truncate shortens s to at most n bytes (plus an ellipsis), keeping UTF-8
// whole.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

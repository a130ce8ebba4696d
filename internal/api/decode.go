package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
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

// decodePublish decodes and validates the body of POST /v1/alarms, in one
// pass (decodeFast, or else decodeObject). The idempotency key comes from
// the header, not from here.
func decodePublish(b []byte) (stream.PublishInput, *apiError) {
	if aerr := checkUTF8(b); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	var body publishBody
	if decodeFast(b, &body, nil) {
		return body.input()
	}
	body = publishBody{}
	if aerr := decodeObject(b, body.fields()); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	return body.input()
}

// batchItem is one item of a batch as decodeBatch read it: its input, or
// the error it fails with alone.
type batchItem struct {
	in   stream.PublishInput
	aerr *apiError
	raw  []byte // the item's JSON text, in the body
}

// decodeBatch decodes POST /v1/alarms/batch: an envelope holding 1..max
// items, each decoded in the same pass (decodeBatchFast, or else
// decodeBatchItems). What is wrong with the envelope
// (malformed JSON anywhere, an unknown member, too many items) fails the
// batch; what is wrong with an item fails that item alone.
func decodeBatch(b []byte, max int) ([]batchItem, *apiError) {
	items, ok := decodeBatchFast(b)
	if !ok {
		var aerr *apiError
		if items, aerr = decodeBatchItems(b); aerr != nil {
			return nil, aerr
		}
	}
	switch {
	case len(items) == 0:
		return nil, badRequest(protocol.CodeInvalidBatch, "alarms must be a non-empty array")
	case len(items) > max:
		return nil, badRequest(protocol.CodeInvalidBatch, fmt.Sprintf("a batch holds at most %d alarms", max))
	}
	return items, nil
}

// decodeBatchItems decodes a batch envelope and its items with
// encoding/json's Decoder, in one pass.
func decodeBatchItems(b []byte) ([]batchItem, *apiError) {
	items := make([]batchItem, 0, 16)
	alarms := func(dec *json.Decoder) error { return readItems(dec, b, &items) }
	if aerr := decodeObject(b, []strictjson.Field{{Name: "alarms", Decode: alarms}}); aerr != nil {
		return nil, aerr
	}
	return items, nil
}

// readItems reads the value of "alarms", an array of items (or null for
// none), and appends each item to items. b is the whole body, which dec
// reads: an item's text is checked for UTF-8 only when b is not valid.
func readItems(dec *json.Decoder, b []byte, items *[]batchItem) error {
	validUTF8 := utf8.Valid(b)
	return strictjson.DecodeArray(dec, func(dec *json.Decoder) error {
		start := dec.InputOffset()
		it, err := readItem(dec)
		if err != nil {
			return err
		}
		it.raw = bytes.TrimLeft(b[start:dec.InputOffset()], ", \t\r\n")
		if !validUTF8 {
			if aerr := checkUTF8(it.raw); aerr != nil {
				it = batchItem{aerr: aerr, raw: it.raw}
			}
		}
		*items = append(*items, it)
		return nil
	})
}

// readItem reads one batch item from dec. Its error is what makes the
// body malformed; what is wrong with the item alone is in its aerr.
func readItem(dec *json.Decoder) (batchItem, error) {
	var body batchItemBody
	if err := strictjson.DecodeObject(dec, body.fields(), false); err != nil {
		var ke *strictjson.KeyError
		if !errors.As(err, &ke) && !errors.Is(err, strictjson.ErrNotObject) {
			return batchItem{}, err
		}
		return batchItem{aerr: objectError(err)}, nil
	}
	in, aerr := body.input()
	return batchItem{in: in, aerr: aerr}, nil
}

// fields lists the members of a publish body.
func (p *publishBody) fields() []strictjson.Field {
	return []strictjson.Field{{Name: "channel", Dst: &p.Channel}, {Name: "event", Dst: &p.Event}, {Name: "data", Dst: &p.Data}}
}

// fields lists the members of a batch item.
func (p *batchItemBody) fields() []strictjson.Field {
	return append(p.publishBody.fields(), strictjson.Field{Name: "idempotency_key", Dst: &p.IdempotencyKey})
}

// fields lists the members of a state change.
func (p *stateBody) fields() []strictjson.Field {
	return []strictjson.Field{{Name: "op", Dst: &p.Op}, {Name: "ids", Dst: &p.IDs}, {Name: "up_to", Dst: &p.UpTo}}
}

// input validates a batch item's fields, its idempotency key too.
func (p *batchItemBody) input() (stream.PublishInput, *apiError) {
	in, aerr := p.publishBody.input()
	if aerr != nil {
		return stream.PublishInput{}, aerr
	}
	if p.IdempotencyKey != nil {
		if !alarm.ValidIdemKey(*p.IdempotencyKey) {
			return stream.PublishInput{}, storeError(alarm.ErrInvalidIdemKey)
		}
		in.IdempotencyKey = *p.IdempotencyKey
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

// decodeObject decodes b, which must be exactly one JSON object with no
// unknown, duplicate or mis-cased member names, into fields, in one pass
// of encoding/json's Decoder.
func decodeObject(b []byte, fields []strictjson.Field) *apiError {
	if len(bytes.TrimLeft(b, " \t\r\n")) == 0 {
		return badRequest(protocol.CodeInvalidJSON, "the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := strictjson.DecodeObject(dec, fields, false); err != nil {
		return objectError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return badRequest(protocol.CodeInvalidJSON, "unexpected data after the JSON object")
	}
	return nil
}

// objectError maps an error of strictjson.DecodeObject to an answer.
func objectError(err error) *apiError {
	var synErr *json.SyntaxError
	var ke *strictjson.KeyError
	switch {
	case errors.As(err, &synErr):
		return badRequest(protocol.CodeInvalidJSON, fmt.Sprintf("malformed JSON at byte %d", synErr.Offset))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return badRequest(protocol.CodeInvalidJSON, "truncated JSON")
	case errors.Is(err, strictjson.ErrNotObject):
		return badRequest(protocol.CodeInvalidJSON, "the body must be a JSON object")
	case !errors.As(err, &ke):
		return badRequest(protocol.CodeInvalidJSON, "invalid JSON")
	case errors.Is(err, strictjson.ErrDuplicate):
		return badRequest(protocol.CodeDuplicateField, "field "+quoteName(ke.Key)+" appears more than once")
	case errors.Is(err, strictjson.ErrCase):
		return badRequest(protocol.CodeUnknownField, "unknown field "+quoteName(ke.Key)+" (field names are case-sensitive)")
	case errors.Is(err, strictjson.ErrUnknown):
		return badRequest(protocol.CodeUnknownField, "unknown field "+quoteName(ke.Key))
	}
	return fieldTypeError(ke.Key)
}

// quoteName quotes a caller's member name for an error message.
func quoteName(s string) string {
	return strconv.Quote(truncate(s, maxEchoLen))
}

// fieldTypeError answers a JSON value of the wrong type for the member
// called name.
func fieldTypeError(name string) *apiError {
	switch name {
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

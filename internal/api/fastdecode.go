package api

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/internal/strictjson"
)

// The publish path's common case in one hand-written pass
// (strictjson.Members, which also checks the JSON): a body or batch item
// whose names are all known, exactly and once, and whose strings hold no
// escape. Anything else is refused here and decoded by decodeObject,
// which decides and names what is wrong; FuzzDecodeFast checks that what
// the shortcut accepts decodeObject decodes the same way. It takes a
// quarter of decodeObject's time on a loadgen alarm (BenchmarkDecodePublish).

// decodeFast decodes b, valid UTF-8, into p and, for a batch item (idem
// not nil), its idempotency key. It reports false, leaving p and idem to
// be reset, for anything but the common case.
func decodeFast(b []byte, p *publishBody, idem **string) bool {
	var seen uint8
	return strictjson.Members(b, func(name, value []byte) bool {
		var bit uint8
		var dst **string
		switch string(name) {
		case "channel":
			bit, dst = 1, &p.Channel
		case "event":
			bit, dst = 2, &p.Event
		case "data":
			bit = 4
		case "idempotency_key":
			bit, dst = 8, idem
		}
		if bit == 0 || dst == nil && bit != 4 || seen&bit != 0 {
			return false
		}
		seen |= bit
		if dst == nil {
			p.Data = json.RawMessage(value)
			return true
		}
		if len(value) < 2 || value[0] != '"' || bytes.IndexByte(value, '\\') >= 0 {
			return false
		}
		s := string(value[1 : len(value)-1])
		*dst = &s
		return true
	})
}

// decodeBatchFast decodes a batch body whose items are all in the common
// case; false for anything else (decodeBatch then decodes it item by
// item).
func decodeBatchFast(b []byte) ([]batchItem, bool) {
	if !utf8.Valid(b) {
		return nil, false
	}
	var items []batchItem
	ok := strictjson.Members(b, func(name, value []byte) bool {
		if string(name) != "alarms" || items != nil {
			return false
		}
		items = make([]batchItem, 0, 16)
		return strictjson.Elements(value, func(raw []byte) bool {
			var body batchItemBody
			if !decodeFast(raw, &body.publishBody, &body.IdempotencyKey) {
				return false
			}
			in, aerr := body.input()
			items = append(items, batchItem{in: in, aerr: aerr, raw: raw})
			return true
		})
	})
	return items, ok && items != nil
}

package api

import (
	"encoding/json"

	"github.com/alarmgate/alarmgate/internal/strictjson"
)

// decodeFast decodes b, valid JSON, into v (*publishBody, *batchItemBody or
// *batchBody) in one pass, the common case of decodeObject. It reports
// false, leaving v as it was, for anything it does not handle: an unknown,
// repeated or mis-cased name, a value of the wrong type, a null; the slow
// path then names the error (or decodes what is unusual but valid).
func decodeFast(b []byte, v any) bool {
	switch v := v.(type) {
	case *publishBody:
		var p publishBody
		if !fastItem(b, &p, nil) {
			return false
		}
		*v = p
	case *batchItemBody:
		var p batchItemBody
		if !fastItem(b, &p.publishBody, &p.IdempotencyKey) {
			return false
		}
		*v = p
	case *batchBody:
		var p batchBody
		if !fastBatch(b, &p) {
			return false
		}
		*v = p
	default:
		return false
	}
	return true
}

// Member bits for fastItem.
const (
	memberChannel = 1 << iota
	memberEvent
	memberData
	memberIdem
)

// fastItem decodes a publish body, or a batch item when idem is not nil.
func fastItem(b []byte, p *publishBody, idem **string) bool {
	var seen int
	return strictjson.Members(b, func(name, value []byte) bool {
		var bit int
		switch string(name) {
		case "channel":
			bit = memberChannel
		case "event":
			bit = memberEvent
		case "data":
			bit = memberData
		case "idempotency_key":
			if idem == nil {
				return false
			}
			bit = memberIdem
		default:
			return false
		}
		if seen&bit != 0 {
			return false
		}
		seen |= bit
		if bit == memberData {
			p.Data = json.RawMessage(value)
			return true
		}
		s, ok := strictjson.String(value)
		if !ok {
			return false
		}
		switch bit {
		case memberChannel:
			p.Channel = &s
		case memberEvent:
			p.Event = &s
		default:
			*idem = &s
		}
		return true
	})
}

// fastBatch decodes a batch envelope: {"alarms":[...]}.
func fastBatch(b []byte, p *batchBody) bool {
	var seen bool
	return strictjson.Members(b, func(name, value []byte) bool {
		if string(name) != "alarms" || seen {
			return false
		}
		seen = true
		p.Alarms = make([]json.RawMessage, 0, 16)
		return strictjson.Elements(value, func(item []byte) bool {
			p.Alarms = append(p.Alarms, item)
			return true
		})
	})
}

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

// Indexes in itemFields of the members fastItem takes.
const (
	fieldChannel = iota
	fieldEvent
	fieldData
	fieldIdem // batch items only: the last
)

var (
	itemFields  = []string{fieldChannel: "channel", fieldEvent: "event", fieldData: "data", fieldIdem: "idempotency_key"}
	batchFields = []string{"alarms"}
)

// fastItem decodes a publish body, or a batch item when idem is not nil.
func fastItem(b []byte, p *publishBody, idem **string) bool {
	names := itemFields
	if idem == nil {
		names = names[:fieldIdem]
	}
	return strictjson.Fields(b, names, func(i int, value []byte) bool {
		if i == fieldData {
			p.Data = json.RawMessage(value)
			return true
		}
		s, ok := strictjson.String(value)
		if !ok {
			return false
		}
		switch i {
		case fieldChannel:
			p.Channel = &s
		case fieldEvent:
			p.Event = &s
		default:
			*idem = &s
		}
		return true
	})
}

// fastBatch decodes a batch envelope: {"alarms":[...]}.
func fastBatch(b []byte, p *batchBody) bool {
	return strictjson.Fields(b, batchFields, func(_ int, value []byte) bool {
		p.Alarms = make([]json.RawMessage, 0, 16)
		return strictjson.Elements(value, func(item []byte) bool {
			p.Alarms = append(p.Alarms, item)
			return true
		})
	})
}

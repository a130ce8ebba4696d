package ws

import (
	"github.com/alarmgate/alarmgate/internal/strictjson"
	"github.com/alarmgate/alarmgate/protocol"
)

// Member bits for fastHello.
const (
	helloType = 1 << iota
	helloToken
	helloLastID
	helloEpoch
)

// fastHello decodes the common hello in one pass: valid JSON holding only
// the four names of protocol.Hello, each once, each a string. It reports
// false, leaving h as it was, for anything else (an unknown or mis-cased
// name, a repeat, another type, a null): decodeHello's encoding/json path
// then decides, and names the error. What it accepts, that path decodes
// the same way (FuzzFastHello).
func fastHello(b []byte, h *protocol.Hello) bool {
	if !strictjson.Valid(b) {
		return false
	}
	var out protocol.Hello
	var seen int
	ok := strictjson.Members(b, func(name, value []byte) bool {
		var bit int
		switch string(name) {
		case "type":
			bit = helloType
		case "token":
			bit = helloToken
		case "last_id":
			bit = helloLastID
		case "epoch":
			bit = helloEpoch
		default:
			return false
		}
		s, ok := strictjson.String(value)
		if seen&bit != 0 || !ok {
			return false
		}
		seen |= bit
		switch bit {
		case helloType:
			out.Type = s
		case helloToken:
			out.Token = s
		case helloLastID:
			out.LastID = &s
		default:
			out.Epoch = s
		}
		return true
	})
	if ok {
		*h = out
	}
	return ok
}

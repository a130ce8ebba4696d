package ws

import (
	"github.com/alarmgate/alarmgate/internal/strictjson"
	"github.com/alarmgate/alarmgate/protocol"
)

// helloFields are the member names of protocol.Hello, in the order
// fastHello's switch reads them.
var helloFields = []string{"type", "token", "last_id", "epoch"}

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
	ok := strictjson.Fields(b, helloFields, func(i int, value []byte) bool {
		s, ok := strictjson.String(value)
		if !ok {
			return false
		}
		switch i {
		case 0:
			out.Type = s
		case 1:
			out.Token = s
		case 2:
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

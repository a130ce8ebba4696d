package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"

	"github.com/alarmgate/alarmgate/internal/strictjson"
	"github.com/alarmgate/alarmgate/protocol"
)

// readHelloJSON decodes a hello, valid UTF-8, in one pass. Unknown fields
// are ignored so newer clients keep working; a known field given twice or
// in another case, and an unknown one given twice, are refused
// (errHelloKeys): encoding/json would let the last, or the mis-cased, one
// win. Anything else that is not one object of protocol.Hello's fields is
// errBadHello.
func readHelloJSON(b []byte) (protocol.Hello, error) {
	var h protocol.Hello
	fields := []strictjson.Field{
		{Name: "type", Dst: &h.Type},
		{Name: "token", Dst: &h.Token},
		{Name: "last_id", Dst: &h.LastID},
		{Name: "epoch", Dst: &h.Epoch},
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	err := strictjson.DecodeObject(dec, fields, true)
	switch {
	case errors.Is(err, strictjson.ErrDuplicate), errors.Is(err, strictjson.ErrCase):
		return protocol.Hello{}, errHelloKeys
	case err != nil:
		return protocol.Hello{}, errBadHello
	}
	if _, err := dec.Token(); err != io.EOF {
		return protocol.Hello{}, errBadHello
	}
	return h, nil
}

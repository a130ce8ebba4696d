package ws

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDecodeHello(t *testing.T) {
	tests := []struct {
		name   string
		typ    websocket.MessageType
		in     string
		err    error
		lastID string
	}{
		{"minimal", websocket.MessageText, `{"type":"hello","token":"t"}`, nil, ""},
		{"position", websocket.MessageText, `{"type":"hello","token":"t","last_id":"1-2","epoch":"e"}`, nil, "1-2"},
		{"unknown fields ignored", websocket.MessageText, `{"type":"hello","token":"t","v":2}`, nil, ""},
		{"bad last_id kept for the invalid status", websocket.MessageText, `{"type":"hello","token":"t","last_id":"x"}`, nil, "x"},
		{"binary", websocket.MessageBinary, `{"type":"hello","token":"t"}`, errNotText, ""},
		{"not json", websocket.MessageText, `hello`, errBadHello, ""},
		{"array", websocket.MessageText, `[]`, errBadHello, ""},
		{"last_id not a string", websocket.MessageText, `{"type":"hello","token":"t","last_id":5}`, errBadHello, ""},
		{"other type", websocket.MessageText, `{"type":"ping","token":"t"}`, errNotHello, ""},
		{"no token", websocket.MessageText, `{"type":"hello"}`, errNoToken, ""},
		{"mis-cased token shadows", websocket.MessageText, `{"type":"hello","token":"t","Token":"u"}`, errHelloKeys, ""},
		{"mis-cased last_id", websocket.MessageText, `{"type":"hello","token":"t","LAST_ID":"1-2"}`, errHelloKeys, ""},
		{"duplicate token", websocket.MessageText, `{"type":"hello","token":"t","token":"u"}`, errHelloKeys, ""},
		{"duplicate unknown", websocket.MessageText, `{"type":"hello","token":"t","v":1,"v":2}`, errHelloKeys, ""},
		{"invalid utf-8", websocket.MessageText, "{\"type\":\"hello\",\"token\":\"t\",\"epoch\":\"\xe9\"}", errBadUTF8, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := decodeHello(tt.typ, []byte(tt.in))
			if err != tt.err {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
			if err == nil && tt.lastID != "" && (h.LastID == nil || *h.LastID != tt.lastID) {
				t.Fatalf("last_id = %v", h.LastID)
			}
		})
	}
}

func FuzzDecodeHello(f *testing.F) {
	f.Add(`{"type":"hello","token":"t","last_id":"1-2","epoch":"e"}`)
	f.Add(`{"type":"hello"}`)
	f.Add(`{`)
	f.Add(`{"type":"hello","token":"t","Token":"u"}`)
	f.Add("{\"type\":\"hello\",\"token\":\"\xff\"}")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := decodeHello(websocket.MessageText, []byte(s))
		if err == nil && (h.Type != protocol.TypeHello || h.Token == "" || !utf8.ValidString(s)) {
			t.Fatalf("accepted %q as %+v", s, h)
		}
		if err != nil {
			return
		}
		if err := checkHelloNames([]byte(s)); err != nil {
			t.Fatalf("accepted %q: %v", s, err)
		}
		var want protocol.Hello
		if err := json.Unmarshal([]byte(s), &want); err != nil || !reflect.DeepEqual(h, want) {
			t.Fatalf("%q: decoded %+v, encoding/json %+v %v", s, h, want, err)
		}
	})
}

// checkHelloNames walks the object in b with json.Decoder's tokens and
// reports a repeated member name, or one that folds onto a field of
// protocol.Hello without being it.
func checkHelloNames(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not an object: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string)
		if seen[name] {
			return fmt.Errorf("repeated name %q", name)
		}
		seen[name] = true
		for _, known := range []string{"type", "token", "last_id", "epoch"} {
			if name != known && strings.EqualFold(name, known) {
				return fmt.Errorf("mis-cased name %q", name)
			}
		}
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
	}
	return nil
}

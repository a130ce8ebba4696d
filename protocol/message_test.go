package protocol

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestMessageHoldsWelcomeAndAlarm(t *testing.T) {
	w := Welcome{Type: TypeWelcome, Node: "gw-2", Epoch: "e7f", Channels: []string{"user:42", "broadcast"},
		Position: "1732530000000-3", Resume: Resume{Status: StatusResumed, Replayed: 2}}
	a := Alarm{Type: TypeAlarm, ID: "1732530000001-0", TS: 1732530000001, Channel: "user:42",
		Event: "order.shipped", Data: json.RawMessage(`{"order":7}`)}
	for _, tt := range []struct {
		msg  any
		pick func(*Message) any
	}{
		{w, func(m *Message) any { return m.Welcome() }},
		{a, func(m *Message) any { return m.Alarm() }},
	} {
		b, err := json.Marshal(tt.msg)
		if err != nil {
			t.Fatal(err)
		}
		var m Message
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if got := tt.pick(&m); !reflect.DeepEqual(got, tt.msg) {
			t.Errorf("through Message:\n got %+v\nwant %+v", got, tt.msg)
		}
	}
}

func TestHelloLastID(t *testing.T) {
	id := "0-0"
	tests := []struct {
		h    Hello
		want string
	}{
		{Hello{Type: TypeHello, Token: "t"}, `{"type":"hello","token":"t"}`},
		{Hello{Type: TypeHello, Token: "t", LastID: &id, Epoch: "e"}, `{"type":"hello","token":"t","last_id":"0-0","epoch":"e"}`},
	}
	for _, tt := range tests {
		b, err := json.Marshal(tt.h)
		if err != nil || string(b) != tt.want {
			t.Errorf("Marshal = %s, %v; want %s", b, err, tt.want)
		}
	}
	var h Hello
	if err := json.Unmarshal([]byte(`{"type":"hello","token":"t","last_id":""}`), &h); err != nil || h.LastID == nil || *h.LastID != "" {
		t.Errorf("an empty last_id must decode as present: %+v %v", h, err)
	}
}

func TestCloseCodeReconnect(t *testing.T) {
	tests := []struct {
		code CloseCode
		want bool
	}{
		{CloseNormal, false},
		{CloseRestart, true},
		{CloseTryLater, true},
		{CloseProtocol, false},
		{CloseAuth, true},
		{CloseNoHello, true},
		{CloseSlowClient, true},
		{1006, true},
	}
	for _, tt := range tests {
		if got := tt.code.Reconnect(); got != tt.want {
			t.Errorf("CloseCode(%d).Reconnect() = %v, want %v", tt.code, got, tt.want)
		}
	}
}

package ws

import (
	"reflect"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

func TestDecodeStateChange(t *testing.T) {
	tests := []struct {
		name string
		in   string
		ok   bool
		want protocol.StateChange
	}{
		{"ids", `{"type":"state","op":"read","ids":["1-0","2-0"]}`, true,
			protocol.StateChange{Type: "state", Op: "read", IDs: []string{"1-0", "2-0"}}},
		{"up_to", ` {"type":"state","op":"seen","up_to":"3-0"} `, true,
			protocol.StateChange{Type: "state", Op: "seen", UpTo: "3-0"}},
		{"unknown field", `{"type":"state","op":"read","ids":[],"x":1}`, false, protocol.StateChange{}},
		{"mis-cased", `{"type":"state","OP":"read","ids":[]}`, false, protocol.StateChange{}},
		{"duplicate", `{"type":"state","op":"read","op":"unread","ids":[]}`, false, protocol.StateChange{}},
		{"wrong type", `{"type":"state","op":"read","ids":"1-0"}`, false, protocol.StateChange{}},
		{"trailing", `{"type":"state","op":"read"} {}`, false, protocol.StateChange{}},
		{"truncated", `{"type":"state","op":"read"`, false, protocol.StateChange{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := decodeStateChange([]byte(tt.in))
			if (err == nil) != tt.ok || !reflect.DeepEqual(c, tt.want) {
				t.Fatalf("decodeStateChange = %+v, %v; want %+v, ok %v", c, err, tt.want, tt.ok)
			}
		})
	}
}

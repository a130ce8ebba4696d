package sse

import (
	"bytes"
	"encoding/json"
	"strconv"

	"github.com/alarmgate/alarmgate/protocol"
)

// alarmPrefix starts every alarm frame the hub queues (see internal/alarm).
var alarmPrefix = []byte(`{"type":"` + protocol.TypeAlarm + `","id":"`)

// statePrefix starts every state event (it goes through the log too).
var statePrefix = []byte(`{"type":"` + protocol.TypeState + `","id":"`)

// welcomePrefix starts every welcome the hub queues.
var welcomePrefix = []byte(`{"type":"` + protocol.TypeWelcome + `"`)

// heartbeat is a comment (for proxies) and a ping event (for clients, which
// cannot see comments); it has no id, so it leaves Last-Event-ID alone.
var heartbeat = []byte(": ping\nevent: " + protocol.SSEEventPing + "\ndata: {\"type\":\"" + protocol.TypePing + "\"}\n\n")

// encoder turns queued messages into events. It remembers the epoch of the
// stream's welcome (the first message) to put it into every alarm's id. It
// is owned by the stream's goroutine.
type encoder struct {
	epoch string
}

// appendEvent appends msg as one event to b. An alarm becomes
// `event: alarm` with id `<epoch>/<alarm id>`, a state event `event: state`
// likewise; the welcome `event: welcome`
// with id `<epoch>/<position>`; anything else an event named by its type,
// without id.
func (e *encoder) appendEvent(b *bytes.Buffer, msg []byte) {
	switch {
	case bytes.HasPrefix(msg, alarmPrefix):
		rest := msg[len(alarmPrefix):]
		id := rest[:max(bytes.IndexByte(rest, '"'), 0)]
		writeEvent(b, protocol.SSEEventAlarm, e.id(id), msg)
	case bytes.HasPrefix(msg, statePrefix): // an id like an alarm's: a resume position
		rest := msg[len(statePrefix):]
		id := rest[:max(bytes.IndexByte(rest, '"'), 0)]
		writeEvent(b, protocol.TypeState, e.id(id), msg)
	case bytes.HasPrefix(msg, welcomePrefix):
		var w protocol.Welcome
		_ = json.Unmarshal(msg, &w) // the hub encoded it
		e.epoch = w.Epoch
		writeEvent(b, protocol.SSEEventWelcome, e.id([]byte(w.Position)), msg)
	default:
		var m struct {
			Type string `json:"type"`
		}
		if json.Unmarshal(msg, &m) != nil || !validField(m.Type) {
			return
		}
		writeEvent(b, m.Type, "", msg)
	}
}

// id returns the event id of an alarm id or position in the stream's epoch.
func (e *encoder) id(id []byte) string {
	if e.epoch == "" {
		return string(id)
	}
	return e.epoch + "/" + string(id)
}

// writeEvent appends one event. data is compact JSON: it has no newline.
func writeEvent(b *bytes.Buffer, event, id string, data []byte) {
	b.WriteString("event: ")
	b.WriteString(event)
	if id != "" && validField(id) {
		b.WriteString("\nid: ")
		b.WriteString(id)
	}
	b.WriteString("\ndata: ")
	b.Write(data)
	b.WriteString("\n\n")
}

// closeEvent returns the event that ends a stream with code.
func closeEvent(code protocol.CloseCode, reason string) []byte {
	data, _ := json.Marshal(protocol.Close{Type: protocol.TypeClose, Code: code, Reason: reason})
	var b bytes.Buffer
	writeEvent(&b, protocol.SSEEventClose, "", data)
	return b.Bytes()
}

// retryField returns the `retry:` line that sets EventSource's reconnect
// delay.
func retryField(ms int64) []byte {
	return []byte("retry: " + strconv.FormatInt(ms, 10) + "\n\n")
}

// validField reports whether s may be a field value: no line break, no NUL.
func validField(s string) bool {
	return s != "" && !bytes.ContainsAny([]byte(s), "\r\n\x00")
}

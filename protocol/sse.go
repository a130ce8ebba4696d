package protocol

import (
	"errors"
	"strings"
)

// Server-Sent Events names. Over SSE every server message is one event
// whose data is the message's JSON and whose event name is its type
// (SSEEventWelcome, SSEEventAlarm, SSEEventPing, SSEEventClose).
const (
	SSEEventWelcome = TypeWelcome
	SSEEventAlarm   = TypeAlarm
	SSEEventPing    = TypePing
	SSEEventClose   = TypeClose
)

// ErrEventID reports a Last-Event-ID that is not `<epoch>/<id>` or `<id>`.
var ErrEventID = errors.New("protocol: invalid event id")

// FormatEventID returns the SSE event id of the alarm (or welcome
// position) id in epoch: `<epoch>/<id>`, so that the epoch survives an
// EventSource's automatic reconnect, which resends only the id.
func FormatEventID(epoch string, id ID) string {
	if epoch == "" {
		return id.String()
	}
	return epoch + "/" + id.String()
}

// ParseEventID splits an SSE event id as FormatEventID makes it. An id
// without '/' has no epoch (""). lastID is returned unparsed, so that a
// malformed one can be answered StatusInvalid like a hello's last_id; err
// is ErrEventID only when s is empty or has an empty part.
func ParseEventID(s string) (epoch, lastID string, err error) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		lastID = s
	} else {
		epoch, lastID = s[:i], s[i+1:]
		if epoch == "" {
			return "", "", ErrEventID
		}
	}
	if lastID == "" {
		return "", "", ErrEventID
	}
	return epoch, lastID, nil
}

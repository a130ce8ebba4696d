package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/alarmgate/alarmgate/protocol"
)

// ErrBadMessage reports a server message the client cannot use (not JSON,
// an alarm without a valid id, an alarm before the welcome, a second
// welcome). The client drops such a connection and reconnects.
var ErrBadMessage = errors.New("client: bad message from server")

// Alarm is one alarm as delivered to a connection.
type Alarm struct {
	ID      string          `json:"id"`
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	TS      int64           `json:"ts"` // ms since the Unix epoch, when Redis accepted it
	// Counts are the inbox counts right after an inbox alarm (channel
	// user:<sub>) arrived; nil on other channels.
	Counts *protocol.Counts `json:"counts,omitempty"`
}

// Welcome is the server's answer to hello (protocol.Welcome, flattened).
type Welcome struct {
	Node     string // the node serving this connection
	Epoch    string // the history the connection delivers from
	Position string // delivery starts after this id
	// Status is the resume status. Every status but protocol.StatusResumed
	// means the application's state may be stale: rebuild it, for example
	// with Publisher.History.
	Status   protocol.Status
	Channels []string // channels the token grants
	Replayed int      // alarms replayed before live ones (protocol.StatusResumed)
	// Inbox holds the inbox counts at the welcome (nil when the gateway
	// keeps no inbox state). Each later inbox alarm and State carries
	// newer counts: show the last ones received.
	Inbox *protocol.Counts
}

// Disconnect describes the end of one connection attempt or connection.
type Disconnect struct {
	Code     protocol.CloseCode // WebSocket close code from the server; -1 if none
	Reason   string             // close reason from the server
	Err      error              // what ended it (a dial error, ErrIdleTimeout, ...); may be nil
	Endpoint string             // the URL that was tried
}

// Handler receives a Client's events. Any func may be nil. All are called
// from the goroutine that called Run, one at a time and in order; a slow
// func delays the next event (and, for long enough, makes the server close
// the connection with 4029, after which the client resumes).
type Handler struct {
	// Alarm receives each new alarm once, in id order.
	Alarm func(Alarm)
	// State receives each state event (read, seen, archived changes of
	// the user's inbox alarms, from any device), once, in id order with
	// the alarms.
	State func(State)
	// Error receives error messages: a state change the server refused.
	Error func(protocol.Error)
	// Welcome receives each connection's welcome.
	Welcome func(Welcome)
	// Disconnect is called after every failed attempt or ended connection,
	// before the reconnect delay; not when Run ends because ctx is done.
	Disconnect func(Disconnect)
	// Raw receives every message line exactly as received, before decoding
	// and de-duplication. msg may be retained but must not be modified.
	Raw func(msg []byte)
}

// newHello returns the hello for a position; an empty lastID is left out.
func newHello(token, lastID, epoch string) protocol.Hello {
	h := protocol.Hello{Type: protocol.TypeHello, Token: token, Epoch: epoch}
	if lastID != "" {
		h.LastID = &lastID
	}
	return h
}

// splitFrame splits one WebSocket text frame into its message lines,
// dropping empty lines. The lines share b's memory.
func splitFrame(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		line, rest, _ := bytes.Cut(b, []byte{'\n'})
		if len(line) > 0 {
			lines = append(lines, line)
		}
		b = rest
	}
	return lines
}

// decodeMessage decodes one message line.
func decodeMessage(line []byte) (protocol.Message, error) {
	var m protocol.Message
	if err := json.Unmarshal(line, &m); err != nil {
		return protocol.Message{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return m, nil
}

// welcomeOf returns the Welcome event for a welcome message.
func welcomeOf(w protocol.Welcome) Welcome {
	return Welcome{Node: w.Node, Epoch: w.Epoch, Position: w.Position, Channels: w.Channels,
		Status: w.Resume.Status, Replayed: w.Resume.Replayed, Inbox: w.Inbox}
}

// alarmOf returns the Alarm event for an alarm message.
func alarmOf(a protocol.Alarm) Alarm {
	out := Alarm{ID: a.ID, Channel: a.Channel, Event: a.Event, Data: a.Data, TS: a.TS}
	if a.Unread != nil && a.Unseen != nil {
		out.Counts = &protocol.Counts{Unread: *a.Unread, Unseen: *a.Unseen}
	}
	return out
}

package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrBadMessage reports a server message the client cannot use (not JSON,
// an alarm without a valid id, an alarm before the welcome, a second
// welcome). The client drops such a connection and reconnects.
var ErrBadMessage = errors.New("client: bad message from server")

// Welcome resume statuses (PROTOCOL.md). Every status but StatusResumed
// means the application's state may be stale: rebuild it, for example with
// Publisher.History.
const (
	StatusNew          = "new"
	StatusResumed      = "resumed"
	StatusExpired      = "expired"
	StatusEpochChanged = "epoch_changed"
	StatusInvalid      = "invalid"
)

// Alarm is one alarm as delivered to a connection.
type Alarm struct {
	ID      string          `json:"id"`
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	TS      int64           `json:"ts"` // ms since the Unix epoch, when Redis accepted it
}

// Welcome is the server's answer to hello.
type Welcome struct {
	Node     string   // the node serving this connection
	Epoch    string   // the history the connection delivers from
	Position string   // delivery starts after this id
	Status   string   // one of the Status* constants
	Channels []string // channels the token grants
	Replayed int      // alarms replayed before live ones (StatusResumed)
}

// Disconnect describes the end of one connection attempt or connection.
type Disconnect struct {
	Code     int    // WebSocket close code from the server; -1 if none
	Reason   string // close reason from the server
	Err      error  // what ended it (a dial error, ErrIdleTimeout, ...); may be nil
	Endpoint string // the URL that was tried
}

// Handler receives a Client's events. Any func may be nil. All are called
// from the goroutine that called Run, one at a time and in order; a slow
// func delays the next event (and, for long enough, makes the server close
// the connection with 4029, after which the client resumes).
type Handler struct {
	// Alarm receives each new alarm once, in id order.
	Alarm func(Alarm)
	// Welcome receives each connection's welcome.
	Welcome func(Welcome)
	// Disconnect is called after every failed attempt or ended connection,
	// before the reconnect delay; not when Run ends because ctx is done.
	Disconnect func(Disconnect)
	// Raw receives every message line exactly as received, before decoding
	// and de-duplication. msg may be retained but must not be modified.
	Raw func(msg []byte)
}

// wireMessage is any server message; fields unused by its type stay zero.
type wireMessage struct {
	Type string `json:"type"`

	Node     string      `json:"node"`
	Epoch    string      `json:"epoch"`
	Channels []string    `json:"channels"`
	Position string      `json:"position"`
	Resume   *wireResume `json:"resume"`

	ID      string          `json:"id"`
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	TS      int64           `json:"ts"`
}

type wireResume struct {
	Status   string `json:"status"`
	Replayed int    `json:"replayed"`
}

// hello is the client's first message.
type hello struct {
	Type   string `json:"type"`
	Token  string `json:"token"`
	LastID string `json:"last_id,omitempty"`
	Epoch  string `json:"epoch,omitempty"`
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
func decodeMessage(line []byte) (wireMessage, error) {
	var m wireMessage
	if err := json.Unmarshal(line, &m); err != nil {
		return wireMessage{}, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	return m, nil
}

func (m wireMessage) welcome() Welcome {
	w := Welcome{Node: m.Node, Epoch: m.Epoch, Position: m.Position, Channels: m.Channels}
	if m.Resume != nil {
		w.Status, w.Replayed = m.Resume.Status, m.Resume.Replayed
	}
	return w
}

func (m wireMessage) alarm() Alarm {
	return Alarm{ID: m.ID, Channel: m.Channel, Event: m.Event, Data: m.Data, TS: m.TS}
}

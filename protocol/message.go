package protocol

import "encoding/json"

// Message types: the "type" field of every message.
const (
	TypeHello   = "hello"   // client → server, the first message
	TypeWelcome = "welcome" // server → client, the answer to hello
	TypeAlarm   = "alarm"   // server → client, one alarm
	TypePing    = "ping"    // server → client, after an idle interval
	TypeClose   = "close"   // server → client, SSE only: the stream ends with this close code
)

// Status is a welcome's resume status: how delivery on the connection
// relates to the last_id and epoch of the hello.
type Status string

// Resume statuses. Every status but StatusResumed tells the client that
// alarms may be missing and its state may be stale.
const (
	// StatusNew: the hello had no last_id; delivery starts at the node's
	// newest id.
	StatusNew Status = "new"
	// StatusResumed: every alarm after last_id on the connection's
	// channels follows, replayed ones first, then live ones.
	StatusResumed Status = "resumed"
	// StatusExpired: alarms after last_id were already trimmed from the
	// retained history; there is a gap.
	StatusExpired Status = "expired"
	// StatusEpochChanged: the hello's epoch is not the current one, or
	// last_id is newer than anything the history holds.
	StatusEpochChanged Status = "epoch_changed"
	// StatusInvalid: last_id is not an id.
	StatusInvalid Status = "invalid"
)

// Hello is the client's first message.
type Hello struct {
	Type  string `json:"type"` // TypeHello
	Token string `json:"token"`
	// LastID is the id of the last alarm the client processed (or the
	// position of its last welcome); nil when it has none. A present but
	// malformed last_id gets StatusInvalid.
	LastID *string `json:"last_id,omitempty"`
	// Epoch is the epoch LastID belongs to; "" means the current one.
	Epoch string `json:"epoch,omitempty"`
}

// Welcome is the server's answer to hello. Every alarm on Channels with
// an id above Position follows it, and none at or below.
type Welcome struct {
	Type     string   `json:"type"` // TypeWelcome
	Node     string   `json:"node"`
	Epoch    string   `json:"epoch"`
	Channels []string `json:"channels"`
	Position string   `json:"position"` // an ID
	Resume   Resume   `json:"resume"`
	// Inbox holds the counts of the connection's inbox (user:<sub>) at
	// the welcome; absent when the gateway keeps no inbox state.
	Inbox *Counts `json:"inbox,omitempty"`
}

// Resume is the welcome's account of the hello's resume request.
type Resume struct {
	Status Status `json:"status"`
	// Replayed is how many alarms precede the live ones (StatusResumed).
	Replayed int `json:"replayed"`
}

// Alarm is one alarm. The server encodes it once per alarm (see
// internal/alarm), in this field order; this type is for decoding.
type Alarm struct {
	Type    string          `json:"type"` // TypeAlarm
	ID      string          `json:"id"`
	TS      int64           `json:"ts"` // ms since the Unix epoch when Redis accepted it: ID's ms part
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	// Unread and Unseen are the inbox counts right after this alarm
	// joined it: present on inbox alarms (channel user:<sub>) only.
	Unread *int `json:"unread,omitempty"`
	Unseen *int `json:"unseen,omitempty"`
}

// Ping is sent after an idle interval, for clients (browsers) that cannot
// see WebSocket pings. It carries nothing.
type Ping struct {
	Type string `json:"type"` // TypePing
}

// Close ends a Server-Sent Events stream, which has no close frame: Code
// is the WebSocket close code the same end would have sent, and a client
// acts on it the same way (see CloseCode.Reconnect).
type Close struct {
	Type   string    `json:"type"` // TypeClose
	Code   CloseCode `json:"code"`
	Reason string    `json:"reason"`
}

// Message is any server message, for readers that decode each message once
// before they know its type: the fields its Type does not use stay zero.
type Message struct {
	Type string `json:"type"`

	// welcome
	Node     string   `json:"node"`
	Epoch    string   `json:"epoch"`
	Channels []string `json:"channels"`
	Position string   `json:"position"`
	Resume   Resume   `json:"resume"`
	Inbox    *Counts  `json:"inbox"`

	// alarm
	ID      string          `json:"id"`
	TS      int64           `json:"ts"`
	Channel string          `json:"channel"`
	Event   string          `json:"event"`
	Data    json.RawMessage `json:"data"`
	Unread  *int            `json:"unread"` // alarm (inbox) and state
	Unseen  *int            `json:"unseen"`

	// state
	Op   string   `json:"op"`
	IDs  []string `json:"ids"`
	UpTo string   `json:"up_to"`

	// close (SSE)
	Code   CloseCode `json:"code"`
	Reason string    `json:"reason"`

	// error
	Error        ErrorCode `json:"error"`
	Message      string    `json:"message"`
	RetryAfterMS int64     `json:"retry_after_ms"`
}

// Welcome returns m's welcome fields.
func (m *Message) Welcome() Welcome {
	return Welcome{Type: m.Type, Node: m.Node, Epoch: m.Epoch, Channels: m.Channels, Position: m.Position, Resume: m.Resume, Inbox: m.Inbox}
}

// Alarm returns m's alarm fields.
func (m *Message) Alarm() Alarm {
	return Alarm{Type: m.Type, ID: m.ID, TS: m.TS, Channel: m.Channel, Event: m.Event, Data: m.Data, Unread: m.Unread, Unseen: m.Unseen}
}

// State returns m's state event fields.
func (m *Message) State() State {
	s := State{Type: m.Type, ID: m.ID, TS: m.TS, Channel: m.Channel, Op: m.Op, IDs: m.IDs, UpTo: m.UpTo}
	if m.Unread != nil {
		s.Unread = *m.Unread
	}
	if m.Unseen != nil {
		s.Unseen = *m.Unseen
	}
	return s
}

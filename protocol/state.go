package protocol

// TypeState is the type of a state event (server → client, through the
// log like an alarm) and of a state change request (client → server over
// the WebSocket). TypeError answers a client message the server refused.
const (
	TypeState = "state"
	TypeError = "error"
)

// State change operations on inbox alarms (see docs/protocol.md, "Inbox
// state"). An alarm is unseen → seen → read, and archived or not.
const (
	OpSeen      = "seen"      // mark seen
	OpRead      = "read"      // mark read (and seen)
	OpUnread    = "unread"    // mark unread again (stays seen)
	OpArchive   = "archive"   // archive
	OpUnarchive = "unarchive" // unarchive
)

// ValidOp reports whether op is one of the state change operations.
func ValidOp(op string) bool {
	switch op {
	case OpSeen, OpRead, OpUnread, OpArchive, OpUnarchive:
		return true
	}
	return false
}

// MaxStateIDs is the most ids one state change may name.
const MaxStateIDs = 1000

// Counts are a user's inbox counters: the retained, unarchived inbox
// alarms that are unread and unseen.
type Counts struct {
	Unread int `json:"unread"`
	Unseen int `json:"unseen"`
}

// StateChange is a state change request: the client's message over the
// WebSocket ({"type":"state",...}) and the body of POST /v1/inbox/state
// (without type). Exactly one of IDs and UpTo is given.
type StateChange struct {
	Type string   `json:"type,omitempty"` // TypeState over the WebSocket
	Op   string   `json:"op"`
	IDs  []string `json:"ids,omitempty"`
	// UpTo applies Op to every inbox alarm with an id at or below it.
	UpTo string `json:"up_to,omitempty"`
}

// State is a state event: one applied change, as it went through the log.
// The server encodes it once (stream's state.lua), in this field order;
// this type is for decoding.
type State struct {
	Type    string `json:"type"` // TypeState
	ID      string `json:"id"`   // the event's own log id (a resume position)
	TS      int64  `json:"ts"`
	Channel string `json:"channel"` // "user:<sub>"
	Op      string `json:"op"`
	// IDs are the alarms whose state changed (ids changes), or UpTo is
	// set: Op applies to every inbox alarm with an id at or below it.
	IDs  []string `json:"ids,omitempty"`
	UpTo string   `json:"up_to,omitempty"`
	// Unread and Unseen are the counts after the change.
	Unread int `json:"unread"`
	Unseen int `json:"unseen"`
}

package stream

import (
	_ "embed"
	"errors"
	"strings"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

//go:embed inbox.lua
var inboxLua string

//go:embed state.lua
var stateLua string

// InboxPrefix starts the channels that are inboxes: user:<sub>. Alarms on
// other channels (broadcast included) have no per-user state.
const InboxPrefix = "user:"

// State bits of an inbox alarm, as inbox.lua stores them.
const (
	BitSeen     = 1
	BitRead     = 2
	BitArchived = 4
)

// ErrNoInbox reports a state change or inbox read on a channel that is no
// inbox, or on a store that keeps no channel backlogs (ChannelBacklog 0).
var ErrNoInbox = errors.New("stream: not an inbox")

// ErrInvalidChange reports a state change that is malformed: an unknown
// op, both or neither of ids and up_to, too many ids.
var ErrInvalidChange = errors.New("stream: invalid state change")

// IsInbox reports whether channel is an inbox (user:<sub>).
func IsInbox(channel string) bool { return strings.HasPrefix(channel, InboxPrefix) }

// inboxEnabled reports whether alarms on channel get inbox state.
func (s *Store) inboxEnabled(channel string) bool {
	return s.cfg.ChannelBacklog > 0 && IsInbox(channel)
}

// state returns the inbox state key of channel: {prefix}:st:<channel>.
func (k keys) state(channel string) string { return k.statePrefix + channel }

// CountOf returns what one alarm with state bits adds to the counts, as
// inbox.lua counts: an archived alarm counts for neither.
func CountOf(bits int) protocol.Counts {
	var c protocol.Counts
	if bits&BitArchived != 0 {
		return c
	}
	if bits&BitRead == 0 {
		c.Unread = 1
	}
	if bits&BitSeen == 0 {
		c.Unseen = 1
	}
	return c
}

// ApplyOp returns bits after op, as state.lua applies it.
func ApplyOp(op string, bits int) int {
	switch op {
	case protocol.OpSeen:
		return bits | BitSeen
	case protocol.OpRead:
		return bits | BitSeen | BitRead
	case protocol.OpUnread:
		return bits &^ BitRead
	case protocol.OpArchive:
		return bits | BitArchived
	case protocol.OpUnarchive:
		return bits &^ BitArchived
	}
	return bits
}

// validAlarmID reports whether id names a log id (for state changes).
func validAlarmID(id string) bool {
	_, err := protocol.ParseID(id)
	return err == nil
}

// checkChange validates a change on channel.
func (s *Store) checkChange(channel string, c protocol.StateChange) error {
	if !alarm.ValidChannel(channel) || !s.inboxEnabled(channel) {
		return ErrNoInbox
	}
	if !protocol.ValidOp(c.Op) {
		return errors.Join(ErrInvalidChange, errors.New("unknown op"))
	}
	switch {
	case (len(c.IDs) == 0) == (c.UpTo == ""):
		return errors.Join(ErrInvalidChange, errors.New("give either ids or up_to"))
	case len(c.IDs) > protocol.MaxStateIDs:
		return errors.Join(ErrInvalidChange, errors.New("too many ids"))
	case c.UpTo != "" && !validAlarmID(c.UpTo):
		return errors.Join(ErrInvalidChange, errors.New("up_to is not an id"))
	}
	for _, id := range c.IDs {
		if !validAlarmID(id) {
			return errors.Join(ErrInvalidChange, errors.New("ids must be ids"))
		}
	}
	return nil
}

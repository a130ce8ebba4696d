package stream

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

//go:embed inbox.lua
var inboxLua string

//go:embed state.lua
var stateLua string

//go:embed inboxpage.lua
var inboxPageLua string

// InboxPrefix starts the channels that are inboxes: user:<sub>. Alarms on
// other channels (broadcast included) have no per-user state.
const InboxPrefix = "user:"

// State bits of an inbox alarm. inbox.lua stores them as a class
// (classBits).
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

// classBits are the state bits of inbox.lua's classes a..f (read implies
// seen).
var classBits = [6]int{0, BitSeen, BitSeen | BitRead, BitArchived, BitArchived | BitSeen, BitArchived | BitSeen | BitRead}

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

// Page sizes of ReadInbox.
const (
	DefaultInboxLimit = 50
	MaxInboxLimit     = 1000
)

// InboxQuery selects a page of an inbox.
type InboxQuery struct {
	// Before keeps the alarms with a lower id (Zero: from the newest).
	Before protocol.ID
	// Limit is the most alarms (<= 0: DefaultInboxLimit; at most
	// MaxInboxLimit).
	Limit int
	// Unread keeps only unread (true) or only read (false) alarms; nil:
	// both.
	Unread *bool
	// Archived keeps only archived (true) or unarchived (false) alarms;
	// nil: both.
	Archived *bool
}

// classes returns the letters of inbox.lua's classes q selects.
func (q InboxQuery) classes() string {
	var b strings.Builder
	for i, bits := range classBits {
		read, archived := bits&BitRead != 0, bits&BitArchived != 0
		if (q.Unread == nil || *q.Unread != read) && (q.Archived == nil || *q.Archived == archived) {
			b.WriteByte(byte('a' + i))
		}
	}
	return b.String()
}

// InboxItem is one inbox alarm with its state bits.
type InboxItem struct {
	Alarm alarm.Entry
	Bits  int
}

// Inbox is one page of an inbox as read at one instant.
type Inbox struct {
	Epoch string
	// Items are the page's alarms, newest first.
	Items []InboxItem
	// Counts are the counts of the whole inbox.
	Counts protocol.Counts
	// Next is Zero on the last page; otherwise more alarms follow, and the
	// next page is the one before Next.
	Next protocol.ID
}

// ReadInbox reads one page of the inbox of channel, newest first, with
// the counts, in one atomic script (inboxpage.lua) that costs O(log n +
// limit) whatever the inbox holds and the filter selects.
func (s *Store) ReadInbox(ctx context.Context, channel string, q InboxQuery) (Inbox, error) {
	if !alarm.ValidChannel(channel) || !s.inboxEnabled(channel) {
		return Inbox{}, ErrNoInbox
	}
	if q.Limit <= 0 {
		q.Limit = DefaultInboxLimit
	}
	q.Limit = min(q.Limit, MaxInboxLimit)
	before := ""
	if !q.Before.IsZero() {
		before = q.Before.String()
	}
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	ix, ib, _ := s.keys.inbox(channel)
	res, err := s.page.Run(ctx, s.rdb, []string{s.keys.epoch, ix, ib}, before, q.Limit, q.classes()).Result()
	if err != nil {
		return Inbox{}, wrapErr("read inbox", err)
	}
	out, err := s.parsePage(res, channel)
	if err != nil {
		return Inbox{}, fmt.Errorf("stream: read inbox: %w", err)
	}
	return out, nil
}

// parsePage decodes inboxpage.lua's reply. An alarm whose tail is missing
// or malformed is skipped and logged.
func (s *Store) parsePage(res any, channel string) (Inbox, error) {
	arr, ok := res.([]any)
	if !ok || len(arr) < 4 || (len(arr)-4)%3 != 0 {
		return Inbox{}, fmt.Errorf("unexpected script reply %T", res)
	}
	var out Inbox
	if arr[0] != nil {
		if out.Epoch, ok = arr[0].(string); !ok {
			return Inbox{}, fmt.Errorf("unexpected epoch %T", arr[0])
		}
	}
	unread, ok1 := arr[1].(int64)
	unseen, ok2 := arr[2].(int64)
	more, ok3 := arr[3].(int64)
	if !ok1 || !ok2 || !ok3 {
		return Inbox{}, fmt.Errorf("unexpected page header %v", arr[:4])
	}
	out.Counts = protocol.Counts{Unread: int(unread), Unseen: int(unseen)}
	items := arr[4:]
	out.Items = make([]InboxItem, 0, len(items)/3)
	var last string
	for i := 0; i < len(items); i += 3 {
		id, _ := items[i].(string)
		class, _ := items[i+1].(string)
		last = id
		tail, _ := items[i+2].(string)
		e, ok := parseBacklogItem(id+"\n"+tail, channel)
		if !ok || !e.IsAlarm() || len(class) != 1 || class[0] < 'a' || class[0] > 'f' {
			s.log.Warn("stream: skipping malformed inbox alarm", "channel", channel, "id", id)
			continue
		}
		out.Items = append(out.Items, InboxItem{Alarm: e, Bits: classBits[class[0]-'a']})
	}
	if more == 1 {
		next, err := protocol.ParseID(last)
		if err != nil {
			return Inbox{}, fmt.Errorf("script returned id %q: %w", last, err)
		}
		out.Next = next
	}
	return out, nil
}

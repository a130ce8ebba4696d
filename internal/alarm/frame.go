package alarm

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/internal/strictjson"
	"github.com/alarmgate/alarmgate/protocol"
)

// ErrInvalidFrame reports a Pub/Sub payload or stored entry that this
// package did not encode.
var ErrInvalidFrame = errors.New("alarm: invalid frame")

// ErrInvalidData reports a data value that is not valid JSON in valid
// UTF-8.
var ErrInvalidData = errors.New("alarm: data is not valid JSON")

// Entry is one alarm as every node holds it: its id, its channel and its
// complete wire message, encoded once and shared read-only by every
// connection that receives it. An Entry must not be modified once built.
type Entry struct {
	ID      protocol.ID
	Channel string
	Frame   []byte
}

const (
	typePrefix       = `{"type":"`
	framePrefix      = typePrefix + protocol.TypeAlarm + `","id":"`
	stateFramePrefix = typePrefix + protocol.TypeState + `","id":"`
)

// StateTailPrefix starts the tail of a state event (stream's state.lua
// writes it): a tail that does not start with ',' names its message type
// first, so the log, the channel backlogs and the live channel carry
// state events as they carry alarms.
const StateTailPrefix = protocol.TypeState

// splitType returns the frame prefix (up to the id) of the message type a
// tail encodes and the tail without its type: an alarm tail starts with
// ',', another type's with its name.
func splitType(tail []byte) (prefix string, rest []byte) {
	if len(tail) > 0 && tail[0] != ',' {
		if r, ok := bytes.CutPrefix(tail, []byte(StateTailPrefix)); ok {
			return stateFramePrefix, r
		}
	}
	return framePrefix, tail
}

// ValidTailType reports whether tail starts with ',' (an alarm) or with
// the name of another message type this package knows, followed by ','.
func ValidTailType(tail string) bool {
	return strings.HasPrefix(strings.TrimPrefix(tail, StateTailPrefix), ",")
}

// EncodeTail encodes the part of an alarm frame that does not depend on its
// id: `,"channel":"C","event":E,"data":D}`. data is compacted; it must be
// valid JSON in valid UTF-8 (compacting, like json.Compact, passes invalid
// UTF-8 through, and browsers drop a WebSocket on an invalid text frame).
// The stream stores this tail and the publish script joins it to the id,
// so the frame is built once, in one place.
func EncodeTail(channel, event string, data json.RawMessage) ([]byte, error) {
	if !ValidChannel(channel) {
		return nil, ErrInvalidChannel
	}
	if !ValidEvent(event) {
		return nil, ErrInvalidEvent
	}
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	if !utf8.Valid(data) {
		return nil, ErrInvalidData
	}
	ev, err := json.Marshal(event)
	if err != nil {
		return nil, ErrInvalidEvent
	}
	b := make([]byte, 0, len(channel)+len(ev)+len(data)+32)
	b = append(b, `,"channel":"`...)
	b = append(b, channel...)
	b = append(b, `","event":`...)
	b = append(b, ev...)
	b = append(b, `,"data":`...)
	b, ok := strictjson.AppendCompact(b, data)
	if !ok {
		return nil, ErrInvalidData
	}
	return append(b, '}'), nil
}

// Frame joins an id and a tail into the complete wire message
// {"type":"alarm","id":"ID","ts":MS,...}. ts is the id's millisecond part:
// the time Redis accepted the alarm. The publish script builds the very same
// bytes (see stream's publish.lua).
// A tail that starts with a type name (StateTailPrefix) makes a message
// of that type: {"type":"state","id":"ID","ts":MS,...}.
func Frame(id protocol.ID, tail []byte) []byte {
	prefix, tail := splitType(tail)
	b := make([]byte, 0, len(prefix)+48+len(tail))
	b = append(b, prefix...)
	b = id.AppendTo(b)
	b = append(b, `","ts":`...)
	b = strconv.AppendUint(b, id.MS, 10)
	return append(b, tail...)
}

// IsAlarm reports whether e is an alarm (not a state event).
func (e Entry) IsAlarm() bool { return bytes.HasPrefix(e.Frame, []byte(framePrefix)) }

// IsState reports whether e is a state event.
func (e Entry) IsState() bool {
	return bytes.HasPrefix(e.Frame, []byte(typePrefix+protocol.TypeState+`"`))
}

// NewEntry builds the Entry for an alarm from its id, channel and tail.
func NewEntry(id protocol.ID, channel string, tail []byte) Entry {
	return Entry{ID: id, Channel: channel, Frame: Frame(id, tail)}
}

// ParseFrame reads the id and channel from a frame built by Frame, without
// decoding the rest. It checks the shape it relies on, and that the frame
// is valid UTF-8 so that it can go out as a WebSocket text frame.
func ParseFrame(frame []byte) (Entry, error) {
	if !utf8.Valid(frame) {
		return Entry{}, ErrInvalidFrame
	}
	rest, ok := bytes.CutPrefix(frame, []byte(framePrefix))
	if !ok {
		rest, ok = bytes.CutPrefix(frame, []byte(stateFramePrefix))
	}
	if !ok {
		return Entry{}, ErrInvalidFrame
	}
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return Entry{}, ErrInvalidFrame
	}
	id, err := protocol.ParseID(string(rest[:q]))
	if err != nil {
		return Entry{}, ErrInvalidFrame
	}
	rest, ok = bytes.CutPrefix(rest[q:], []byte(`","ts":`))
	if !ok {
		return Entry{}, ErrInvalidFrame
	}
	i := 0
	for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
		i++
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`,"channel":"`))
	if !ok || i == 0 {
		return Entry{}, ErrInvalidFrame
	}
	q = bytes.IndexByte(rest, '"')
	if q < 0 || !ValidChannel(string(rest[:q])) {
		return Entry{}, ErrInvalidFrame
	}
	if frame[len(frame)-1] != '}' || bytes.IndexByte(frame, '\n') >= 0 {
		return Entry{}, ErrInvalidFrame
	}
	return Entry{ID: id, Channel: string(rest[:q]), Frame: frame}, nil
}

// ParsePayload parses a Pub/Sub payload of one alarm,
// "<epoch>\n[<pred>\n]<frame>", as the publish script sends it.
func ParsePayload(payload []byte) (epoch string, e Entry, err error) {
	l, err := ParseLive(payload)
	if err == nil && len(l.Entries) != 1 {
		err = ErrInvalidFrame
	}
	if err != nil {
		return "", Entry{}, err
	}
	return l.Epoch, l.Entries[0], nil
}

// Live is one message of the live channel: the entries one publish
// script call appended, consecutive in the log.
type Live struct {
	Epoch string
	// Pred is the id of the log entry before the first of Entries ("0-0"
	// for none); HasPred is false for messages of versions that did not
	// send it. Each further entry follows the one before it.
	Pred    protocol.ID
	HasPred bool
	Entries []Entry // at least one, ids ascending
}

// ParseLive parses a Pub/Sub payload "<epoch>\n<pred>\n<frame>[\n<frame>...]"
// (or "<epoch>\n<frame>" from older versions). Frames hold no newline.
func ParseLive(payload []byte) (Live, error) {
	epoch, rest, ok := bytes.Cut(payload, []byte{'\n'})
	if !ok || len(epoch) == 0 {
		return Live{}, ErrInvalidFrame
	}
	l := Live{Epoch: string(epoch)}
	if len(rest) > 0 && rest[0] != '{' {
		pred, frames, ok := bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return Live{}, ErrInvalidFrame
		}
		id, err := protocol.ParseID(string(pred))
		if err != nil {
			return Live{}, ErrInvalidFrame
		}
		l.Pred, l.HasPred, rest = id, true, frames
	}
	l.Entries = make([]Entry, 0, bytes.Count(rest, []byte{'\n'})+1)
	for {
		frame, more, multi := bytes.Cut(rest, []byte{'\n'})
		if multi && !l.HasPred {
			return Live{}, ErrInvalidFrame
		}
		e, err := ParseFrame(frame)
		if err != nil {
			return Live{}, err
		}
		if n := len(l.Entries); n > 0 && !l.Entries[n-1].ID.Less(e.ID) {
			return Live{}, ErrInvalidFrame
		}
		l.Entries = append(l.Entries, e)
		if !multi {
			return l, nil
		}
		rest = more
	}
}

// FrameTS returns the ts of an alarm frame built by Frame (the id's
// millisecond part, read from the fixed prefix), or false for any other
// message. It does not allocate.
func FrameTS(msg []byte) (ms uint64, ok bool) {
	if !bytes.HasPrefix(msg, []byte(framePrefix)) {
		return 0, false
	}
	n := 0
	for _, c := range msg[len(framePrefix):] {
		if c < '0' || c > '9' {
			break
		}
		ms = ms*10 + uint64(c-'0')
		n++
	}
	return ms, n > 0 && n <= 19
}

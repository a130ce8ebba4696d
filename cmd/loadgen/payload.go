package main

import (
	"bytes"
	"cmp"
	"math"
	"strconv"

	"github.com/alarmgate/alarmgate/protocol"
)

// A benchmark alarm's data carries its publish time and the ramp step it
// belongs to, padded to a fixed size: {"t":<unix ns>,"s":<step>,"p":"xx…"}.
// Receivers find both without decoding the JSON.

var (
	alarmPrefix   = []byte(`{"type":"` + protocol.TypeAlarm + `",`)
	welcomePrefix = []byte(`{"type":"` + protocol.TypeWelcome + `",`)
	idKey         = []byte(`"id":"`)
	dataKey       = []byte(`"data":{"t":`)
	dataStart     = []byte(`{"t":`)
	stepKey       = []byte(`,"s":`)
)

// makeData returns the data JSON for an alarm published at t (unix ns) in
// step, padded with 'x' to size bytes when size is larger than the minimum.
func makeData(t int64, step, size int) []byte {
	b := make([]byte, 0, max(size, 64))
	b = append(b, `{"t":`...)
	b = strconv.AppendInt(b, t, 10)
	b = append(b, `,"s":`...)
	b = strconv.AppendInt(b, int64(step), 10)
	b = append(b, `,"p":"`...)
	for len(b)+2 < size {
		b = append(b, 'x')
	}
	return append(b, `"}`...)
}

// publishBody returns the JSON body of POST /v1/alarms.
func publishBody(channel string, data []byte) []byte {
	b := make([]byte, 0, len(channel)+len(data)+48)
	b = append(b, `{"channel":"`...)
	b = append(b, channel...)
	b = append(b, `","event":"bench","data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// batchBody returns the JSON body of POST /v1/alarms/batch for one alarm
// per (channel, data) pair.
func batchBody(channels []string, data [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(`{"alarms":[`)
	for i := range channels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(publishBody(channels[i], data[i]))
	}
	b.WriteString(`]}`)
	return b.Bytes()
}

// benchAlarm is what a receiver extracts from an alarm message.
type benchAlarm struct {
	ID   []byte // aliases the message
	T    int64  // publish time, unix ns; 0 when the data is not ours
	Step int
}

// parseAlarm extracts the id, publish time and step of an alarm message.
// ok is false when msg is not an alarm; T is 0 when it is an alarm whose
// data loadgen did not make.
func parseAlarm(msg []byte) (a benchAlarm, ok bool) {
	if !bytes.HasPrefix(msg, alarmPrefix) {
		return a, false
	}
	rest := msg[len(alarmPrefix):]
	i := bytes.Index(rest, idKey)
	if i < 0 {
		return a, false
	}
	rest = rest[i+len(idKey):]
	q := bytes.IndexByte(rest, '"')
	if q <= 0 {
		return a, false
	}
	a.ID = rest[:q]
	rest = rest[q:]
	i = bytes.Index(rest, dataKey)
	if i < 0 {
		return a, true
	}
	a.T, a.Step = parseData(rest[i+len(dataKey)-len(dataStart):])
	return a, true
}

// parseData reads the publish time and step from the start of a
// benchmark alarm's data, {"t":<ns>,"s":<step>,…}; t is 0 for other data.
func parseData(data []byte) (t int64, step int) {
	if !bytes.HasPrefix(data, dataStart) {
		return 0, 0
	}
	rest := data[len(dataStart):]
	t, n := leadingInt(rest)
	if n == 0 || !bytes.HasPrefix(rest[n:], stepKey) {
		return 0, 0
	}
	s, m := leadingInt(rest[n+len(stepKey):])
	if m == 0 {
		return 0, 0
	}
	return t, int(s)
}

// leadingInt parses the decimal digits at the start of b and returns the
// value and how many bytes it used; a value beyond int64 uses none.
func leadingInt(b []byte) (int64, int) {
	var v uint64
	i := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '9'; i++ {
		if i == 19 {
			return 0, 0
		}
		v = v*10 + uint64(b[i]-'0')
	}
	if v > math.MaxInt64 {
		return 0, 0
	}
	return int64(v), i
}

// splitLines calls fn for every '\n'-separated message of a frame.
func splitLines(frame []byte, fn func([]byte)) {
	for len(frame) > 0 {
		i := bytes.IndexByte(frame, '\n')
		if i < 0 {
			fn(frame)
			return
		}
		if i > 0 {
			fn(frame[:i])
		}
		frame = frame[i+1:]
	}
}

// alarmID is a parsed stream id <ms>-<seq>.
type alarmID struct{ MS, Seq uint64 }

// parseID parses "<ms>-<seq>".
func parseID(b []byte) (alarmID, bool) {
	i := bytes.IndexByte(b, '-')
	if i <= 0 || i == len(b)-1 {
		return alarmID{}, false
	}
	ms, err1 := strconv.ParseUint(string(b[:i]), 10, 64)
	seq, err2 := strconv.ParseUint(string(b[i+1:]), 10, 64)
	if err1 != nil || err2 != nil {
		return alarmID{}, false
	}
	return alarmID{ms, seq}, true
}

// compare orders ids: -1, 0 or +1.
func (a alarmID) compare(b alarmID) int {
	if c := cmp.Compare(a.MS, b.MS); c != 0 {
		return c
	}
	return cmp.Compare(a.Seq, b.Seq)
}

// less orders ids.
func (a alarmID) less(b alarmID) bool {
	return a.MS < b.MS || (a.MS == b.MS && a.Seq < b.Seq)
}

// tracker checks one connection's alarms against the ids expected on it,
// in order: it counts lost, duplicated (at or below the last one) and
// unexpected ids.
type tracker struct {
	expected []alarmID // ascending
	next     int       // index of the next expected id
	last     alarmID   // last id received
	received int
	dups     int // ids not after the previous one: duplicated or reordered
	unknown  int
	skipped  int // expected ids passed over (lost, unless they come later: then also counted in dups)
}

// add records one received id and reports whether every expected id has
// now been seen.
func (t *tracker) add(id alarmID) bool {
	t.received++
	if t.received > 1 && !t.last.less(id) {
		t.dups++
		return t.next == len(t.expected)
	}
	t.last = id
	for j := t.next; j < len(t.expected); j++ {
		if t.expected[j] == id {
			t.skipped += j - t.next
			t.next = j + 1
			return t.next == len(t.expected)
		}
		if id.less(t.expected[j]) {
			break
		}
	}
	t.unknown++
	return t.next == len(t.expected)
}

// lost returns how many expected ids were not received.
func (t *tracker) lost() int { return t.skipped + len(t.expected) - t.next }

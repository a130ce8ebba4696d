package alarm

import (
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/protocol"
)

func TestValidChannel(t *testing.T) {
	for _, s := range []string{"user:42", "broadcast", "a", "A-z_0.9:@x"} {
		if !ValidChannel(s) {
			t.Errorf("%q should be valid", s)
		}
	}
	long := make([]byte, 129)
	for i := range long {
		long[i] = 'a'
	}
	for _, s := range []string{"", "a b", "a/b", "ä", "a\"b", "a\nb", string(long)} {
		if ValidChannel(s) {
			t.Errorf("%q should be invalid", s)
		}
	}
}

func TestValidEventAndKey(t *testing.T) {
	if !ValidEvent("order.shipped") || !ValidEvent("Zahlung eingegangen ✓") {
		t.Fatal("valid events rejected")
	}
	if ValidEvent("") || ValidEvent("a\nb") || ValidEvent(string([]byte{0xff})) {
		t.Fatal("invalid events accepted")
	}
	if !ValidIdemKey("abc-123 x") || ValidIdemKey("") || ValidIdemKey("é") || ValidIdemKey("a\tb") {
		t.Fatal("idempotency key validation wrong")
	}
}

// TestValidEventRefusesInvisibleAndBidi: characters that break a line or
// reorder text where an event is displayed are refused (issue 11, hole 3).
func TestValidEventRefusesInvisibleAndBidi(t *testing.T) {
	for _, r := range []rune{0x00, 0x1f, 0x7f, 0x85, 0x9f, 0xad, 0x061c, 0x200b, 0x200e, 0x200f,
		0x2028, 0x2029, 0x202a, 0x202e, 0x2066, 0x2069, 0xfeff, 0xfffe, 0xffff, 0xfdd0, 0x1fffe} {
		if ValidEvent("a" + string(r) + "b") {
			t.Errorf("event with U+%04X accepted", r)
		}
	}
	for _, s := range []string{"order.shipped", "Zahlung ✓", "ÄÖÜ ß", "日本語", "👨‍👩‍👧", "❤️", "a�b"} {
		if !ValidEvent(s) {
			t.Errorf("event %q refused", s)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	tail, err := EncodeTail("user:42", "order \"shipped\"", json.RawMessage("{ \"n\" : [1, 2],\n \"s\": \"a\\nb\" }"))
	if err != nil {
		t.Fatal(err)
	}
	id := protocol.MustParseID("1732530000001-0")
	e := NewEntry(id, "user:42", tail)
	want := `{"type":"alarm","id":"1732530000001-0","ts":1732530000001,"channel":"user:42","event":"order \"shipped\"","data":{"n":[1,2],"s":"a\nb"}}`
	if string(e.Frame) != want {
		t.Fatalf("frame\n got %s\nwant %s", e.Frame, want)
	}
	var m protocol.Alarm
	if err := json.Unmarshal(e.Frame, &m); err != nil || m.Event != `order "shipped"` || m.TS != 1732530000001 {
		t.Fatalf("frame does not decode: %v %+v", err, m)
	}
	ep, got, err := ParsePayload(append([]byte("ep1\n"), e.Frame...))
	if err != nil || ep != "ep1" || got.ID != id || got.Channel != "user:42" {
		t.Fatalf("ParsePayload = %q %+v %v", ep, got, err)
	}
}

func TestEncodeTailErrors(t *testing.T) {
	if _, err := EncodeTail("bad channel", "e", nil); err != ErrInvalidChannel {
		t.Fatal(err)
	}
	if _, err := EncodeTail("c", "", nil); err != ErrInvalidEvent {
		t.Fatal(err)
	}
	if _, err := EncodeTail("c", "e", json.RawMessage("{")); err != ErrInvalidData {
		t.Fatal(err)
	}
	if tail, err := EncodeTail("c", "e", nil); err != nil || string(tail) != `,"channel":"c","event":"e","data":null}` {
		t.Fatal(string(tail), err)
	}
}

func TestParseFrameRejects(t *testing.T) {
	for _, s := range []string{"", "{}", `{"type":"alarm","id":"x","ts":1,"channel":"c"}`,
		`{"type":"alarm","id":"1-0","ts":,"channel":"c"}`, `{"type":"alarm","id":"1-0","ts":1,"channel":"c d"}`,
		"nonewline"} {
		if _, err := ParseFrame([]byte(s)); err == nil {
			t.Errorf("ParseFrame(%q) accepted", s)
		}
		if _, _, err := ParsePayload([]byte(s)); err == nil {
			t.Errorf("ParsePayload(%q) accepted", s)
		}
	}
}

func FuzzParsePayload(f *testing.F) {
	tail, _ := EncodeTail("user:1", "e", json.RawMessage(`{"a":1}`))
	f.Add(append([]byte("ep\n"), Frame(protocol.MustParseID("1-1"), tail)...))
	f.Add([]byte("x\n{\"type\":\"alarm\",\"id\":\""))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, e, err := ParsePayload(b)
		if err == nil && !ValidChannel(e.Channel) {
			t.Fatalf("accepted bad channel %q", e.Channel)
		}
		if err == nil && !utf8.Valid(e.Frame) {
			t.Fatalf("accepted a frame that is not valid UTF-8: %q", e.Frame)
		}
	})
}

// TestInvalidUTF8NeverFramed: EncodeTail refuses data that is not valid
// UTF-8, and ParseFrame refuses such a frame from Pub/Sub or Redis.
func TestInvalidUTF8NeverFramed(t *testing.T) {
	for _, data := range []string{"\"caf\xe9\"", "{\"\xff\":1}", "\"\xed\xa0\x80\""} {
		if _, err := EncodeTail("a", "e", json.RawMessage(data)); err != ErrInvalidData {
			t.Errorf("EncodeTail(data %q) err = %v, want ErrInvalidData", data, err)
		}
	}
	tail, err := EncodeTail("a", "e", json.RawMessage(`"caf"`))
	if err != nil {
		t.Fatal(err)
	}
	frame := Frame(protocol.ID{MS: 1}, tail)
	frame = append(frame[:len(frame)-3:len(frame)-3], 0xe9, '"', '}')
	if _, err := ParseFrame(frame); err != ErrInvalidFrame {
		t.Fatalf("ParseFrame(%q) err = %v, want ErrInvalidFrame", frame, err)
	}
}

func TestFrameTS(t *testing.T) {
	id := protocol.ID{MS: 1732528800123, Seq: 7}
	tail, err := EncodeTail("c1", "e", json.RawMessage(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  []byte
		ms   uint64
		ok   bool
	}{
		{"alarm", Frame(id, tail), id.MS, true},
		{"welcome", []byte(`{"type":"welcome","epoch":"e"}`), 0, false},
		{"ping", []byte(`{"type":"ping"}`), 0, false},
		{"prefix only", []byte(framePrefix), 0, false},
	}
	for _, tt := range tests {
		ms, ok := FrameTS(tt.msg)
		if ms != tt.ms || ok != tt.ok {
			t.Errorf("%s: FrameTS = %d, %v; want %d, %v", tt.name, ms, ok, tt.ms, tt.ok)
		}
	}
	msg := Frame(id, tail)
	if n := testing.AllocsPerRun(100, func() { _, _ = FrameTS(msg) }); n != 0 {
		t.Errorf("FrameTS allocates %v times", n)
	}
}

// TestStateFrameRoundTrip: a tail that starts with "state" makes a state
// event, which parses like an alarm (id, channel) but is no alarm.
func TestStateFrameRoundTrip(t *testing.T) {
	tail := []byte(`state,"channel":"user:42","op":"read","ids":["1-0"],"unread":0,"unseen":0}`)
	if !ValidTailType(string(tail)) || ValidTailType(`other,"channel":"x"}`) || !ValidTailType(`,"channel":"x"}`) {
		t.Fatal("ValidTailType")
	}
	id := protocol.MustParseID("1732530000009-0")
	e := NewEntry(id, "user:42", tail)
	want := `{"type":"state","id":"1732530000009-0","ts":1732530000009,"channel":"user:42","op":"read","ids":["1-0"],"unread":0,"unseen":0}`
	if string(e.Frame) != want || e.IsAlarm() || !e.IsState() {
		t.Fatalf("frame %s (alarm %v)", e.Frame, e.IsAlarm())
	}
	l, err := ParseLive(append([]byte("ep1\n1-0\n"), e.Frame...))
	if err != nil || len(l.Entries) != 1 || l.Entries[0].ID != id || l.Entries[0].Channel != "user:42" || l.Entries[0].IsAlarm() {
		t.Fatalf("ParseLive = %+v %v", l, err)
	}
	a := NewEntry(id, "user:42", []byte(`,"channel":"user:42","event":"e","data":null}`))
	if !a.IsAlarm() {
		t.Fatal("alarm entry is no alarm")
	}
}

// TestParseLiveBatch: one message carries the consecutive entries of one
// script call, ids ascending, after a predecessor.
func TestParseLiveBatch(t *testing.T) {
	tail, _ := EncodeTail("user:1", "e", json.RawMessage(`{"a":"b\nc"}`))
	f1, f2 := Frame(protocol.MustParseID("5-0"), tail), Frame(protocol.MustParseID("5-1"), tail)
	join := func(parts ...[]byte) []byte { return bytes.Join(parts, []byte{'\n'}) }
	l, err := ParseLive(join([]byte("ep"), []byte("4-0"), f1, f2))
	if err != nil || l.Epoch != "ep" || l.Pred != protocol.MustParseID("4-0") || len(l.Entries) != 2 ||
		l.Entries[0].ID != protocol.MustParseID("5-0") || l.Entries[1].ID != protocol.MustParseID("5-1") {
		t.Fatalf("ParseLive = %+v %v", l, err)
	}
	for name, b := range map[string][]byte{
		"descending":       join([]byte("ep"), []byte("4-0"), f2, f1),
		"repeated":         join([]byte("ep"), []byte("4-0"), f1, f1),
		"no predecessor":   join([]byte("ep"), f1, f2),
		"empty frame":      join([]byte("ep"), []byte("4-0"), f1, nil),
		"trailing garbage": join([]byte("ep"), []byte("4-0"), f1, []byte("x")),
	} {
		if l, err := ParseLive(b); err == nil {
			t.Errorf("%s: accepted as %+v", name, l)
		}
	}
	if _, _, err := ParsePayload(join([]byte("ep"), []byte("4-0"), f1, f2)); err == nil {
		t.Error("ParsePayload accepted two alarms")
	}
}

func FuzzParseLive(f *testing.F) {
	tail, _ := EncodeTail("user:1", "e", json.RawMessage(`{"a":1}`))
	f1, f2 := Frame(protocol.MustParseID("1-1"), tail), Frame(protocol.MustParseID("2-0"), tail)
	f.Add(append([]byte("ep\n1-0\n"), f1...))
	f.Add(append(append(append([]byte("ep\n1-0\n"), f1...), '\n'), f2...))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLive(b)
		if err != nil {
			return
		}
		if len(l.Entries) == 0 || (len(l.Entries) > 1 && !l.HasPred) {
			t.Fatalf("accepted %d entries (pred %v)", len(l.Entries), l.HasPred)
		}
		for i, e := range l.Entries {
			if !ValidChannel(e.Channel) || !utf8.Valid(e.Frame) || bytes.IndexByte(e.Frame, '\n') >= 0 {
				t.Fatalf("accepted entry %d: %q", i, e.Frame)
			}
			if i > 0 && !l.Entries[i-1].ID.Less(e.ID) {
				t.Fatalf("accepted ids out of order: %v", l.Entries)
			}
		}
	})
}

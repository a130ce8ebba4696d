package alarm

import (
	"encoding/json"
	"testing"
)

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want ID
		ok   bool
	}{
		{"0-0", Zero, true},
		{"1732530000000-3", ID{1732530000000, 3}, true},
		{"18446744073709551615-18446744073709551615", ID{^uint64(0), ^uint64(0)}, true},
		{"18446744073709551616-0", ID{}, false},
		{"", ID{}, false},
		{"1", ID{}, false},
		{"-1", ID{}, false},
		{"1-", ID{}, false},
		{"1--2", ID{}, false},
		{"1-2-3", ID{}, false},
		{"+1-2", ID{}, false},
		{" 1-2", ID{}, false},
		{"a-b", ID{}, false},
		{"$", ID{}, false},
	}
	for _, tt := range tests {
		got, err := ParseID(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseID(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if tt.ok && got.String() != tt.in {
			t.Errorf("String() = %q, want %q", got.String(), tt.in)
		}
	}
}

func TestCompareAndPrev(t *testing.T) {
	a, b := MustParseID("5-9"), MustParseID("6-0")
	if !a.Less(b) || b.Less(a) || a.Compare(a) != 0 {
		t.Fatal("ordering wrong")
	}
	if MustParseID("10-2").Less(MustParseID("9-100")) {
		t.Fatal("ms must compare numerically")
	}
	if got := b.Prev(); got != (ID{5, ^uint64(0)}) || !a.Less(got) {
		t.Fatalf("Prev = %v", got)
	}
	if Zero.Prev() != Zero || MustParseID("3-1").Prev() != MustParseID("3-0") {
		t.Fatal("Prev edge cases")
	}
}

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

func TestFrameRoundTrip(t *testing.T) {
	tail, err := EncodeTail("user:42", "order \"shipped\"", json.RawMessage("{ \"n\" : [1, 2],\n \"s\": \"a\\nb\" }"))
	if err != nil {
		t.Fatal(err)
	}
	id := MustParseID("1732530000001-0")
	e := NewEntry(id, "user:42", tail)
	want := `{"type":"alarm","id":"1732530000001-0","ts":1732530000001,"channel":"user:42","event":"order \"shipped\"","data":{"n":[1,2],"s":"a\nb"}}`
	if string(e.Frame) != want {
		t.Fatalf("frame\n got %s\nwant %s", e.Frame, want)
	}
	var m Message
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

func FuzzParseID(f *testing.F) {
	for _, s := range []string{"0-0", "1-2", "18446744073709551615-1", "-", "1-", "a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, err := ParseID(s)
		if err != nil {
			return
		}
		back, err := ParseID(id.String())
		if err != nil || back != id {
			t.Fatalf("round trip %q -> %v -> %v", s, id, back)
		}
	})
}

func FuzzParsePayload(f *testing.F) {
	tail, _ := EncodeTail("user:1", "e", json.RawMessage(`{"a":1}`))
	f.Add(append([]byte("ep\n"), Frame(MustParseID("1-1"), tail)...))
	f.Add([]byte("x\n{\"type\":\"alarm\",\"id\":\""))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, e, err := ParsePayload(b)
		if err == nil && !ValidChannel(e.Channel) {
			t.Fatalf("accepted bad channel %q", e.Channel)
		}
	})
}

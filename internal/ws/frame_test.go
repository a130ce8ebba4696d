package ws

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"
)

func TestFillCoalescesWithinLimit(t *testing.T) {
	var f frameBuf
	payload := func() string { return string(f.b[maxFrameHeader:]) }
	rest := f.fill([][]byte{[]byte("aaaa"), []byte("bbbb"), []byte("cc"), []byte("dddddddddddd")}, 10)
	if got := payload(); got != "aaaa\nbbbb" {
		t.Fatalf("frame %q", got)
	}
	rest = f.fill(rest, 10)
	if got := payload(); got != "cc" || len(rest) != 1 {
		t.Fatalf("frame %q rest %d", got, len(rest))
	}
	if rest = f.fill(rest, 10); payload() != "dddddddddddd" || len(rest) != 0 {
		t.Fatalf("an oversize message must go alone: %q", payload())
	}
}

// TestFrameHeader checks the header against RFC 6455 section 5.2 for each
// length encoding: FIN and opcode text, no mask, 7-bit, 16-bit or 64-bit
// length.
func TestFrameHeader(t *testing.T) {
	tests := []struct {
		n      int
		header []byte
	}{
		{0, []byte{0x81, 0}},
		{125, []byte{0x81, 125}},
		{126, []byte{0x81, 126, 0, 126}},
		{65535, []byte{0x81, 126, 0xff, 0xff}},
		{65536, binary.BigEndian.AppendUint64([]byte{0x81, 127}, 65536)},
	}
	for _, tt := range tests {
		var f frameBuf
		msg := []byte(strings.Repeat("x", tt.n))
		f.fill([][]byte{msg}, 1<<20)
		got := f.frame()
		if !bytes.Equal(got[:len(tt.header)], tt.header) || !bytes.Equal(got[len(tt.header):], msg) {
			t.Errorf("n=%d: header % x, want % x; payload intact %v", tt.n, got[:len(tt.header)], tt.header, bytes.Equal(got[len(tt.header):], msg))
		}
	}
}

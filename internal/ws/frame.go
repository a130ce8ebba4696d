package ws

import "encoding/binary"

// maxFrameHeader is the longest header of an unmasked server frame.
const maxFrameHeader = 10

// frameBuf builds one text frame: the messages joined by '\n' after room
// for the header, which header then writes in front. The owner reuses it
// from frame to frame.
type frameBuf struct {
	b []byte
}

// fill starts a frame with as many of msgs as fit in maxBytes (at least
// one) and returns the rest.
func (f *frameBuf) fill(msgs [][]byte, maxBytes int) [][]byte {
	f.b = append(f.b[:0], make([]byte, maxFrameHeader)...)
	i := 0
	for ; i < len(msgs); i++ {
		n := len(f.b) - maxFrameHeader
		if i > 0 && n+1+len(msgs[i]) > maxBytes {
			break
		}
		if i > 0 {
			f.b = append(f.b, '\n')
		}
		f.b = append(f.b, msgs[i]...)
	}
	return msgs[i:]
}

// frame writes the header of a final, unmasked text frame (RFC 6455
// section 5.2; what coder/websocket writes with compression off) in front
// of the payload and returns the whole frame.
func (f *frameBuf) frame() []byte {
	payload := len(f.b) - maxFrameHeader
	var h [maxFrameHeader]byte
	h[0] = 0x81 // FIN, opcode text
	n := 2
	switch {
	case payload < 126:
		h[1] = byte(payload)
	case payload <= 0xFFFF:
		h[1] = 126
		binary.BigEndian.PutUint16(h[2:], uint16(payload))
		n = 4
	default:
		h[1] = 127
		binary.BigEndian.PutUint64(h[2:], uint64(payload))
		n = 10
	}
	start := maxFrameHeader - n
	copy(f.b[start:], h[:n])
	return f.b[start:]
}

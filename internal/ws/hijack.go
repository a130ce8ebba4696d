package ws

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"time"
)

// Buffer sizes of a hijacked socket. net/http hands over 4 KiB for each
// direction; an idle WebSocket needs little to read (hello, pongs) and a
// frame of a few alarms to write, so smaller buffers cut the memory an
// idle connection costs by about 6 KiB. A frame larger than the write
// buffer is written straight through by bufio, unsplit.
const (
	readBufferSize  = 512
	writeBufferSize = 256
)

// leanHijacker wraps the ResponseWriter given to websocket.Accept so the
// hijacked connection comes with small buffers. Data net/http had already
// buffered from the client is kept in front of the new reader.
type leanHijacker struct {
	http.ResponseWriter
	sc *sockConn     // set by Hijack: the socket, wrapped for the session's writers
	br *bufio.Reader // set by Hijack: the reader the library reads the socket through
}

var errNoHijack = errors.New("ws: response writer cannot hijack")

// Hijack implements http.Hijacker.
func (w *leanHijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errNoHijack
	}
	conn, brw, err := hj.Hijack()
	if err != nil {
		return nil, nil, err
	}
	// net/http documents that a hijacked connection may still carry the
	// server's deadlines (ReadTimeout); Go 1.26 clears them, but that is
	// not promised, and coder/websocket never sets deadlines of its own: a
	// long-lived WebSocket would be cut when one expired. Sessions bound
	// their reads and writes themselves (hello timer, pings, the watchdog).
	if err := conn.SetDeadline(time.Time{}); err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	// Bytes the client sent right after its handshake may sit in net/http's
	// reader. They must end up *buffered* in the new reader: Accept keeps
	// what the reader has buffered and then reads the socket directly.
	br := bufio.NewReaderSize(conn, readBufferSize)
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ := brw.Reader.Peek(n)
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(early)), conn), max(n, readBufferSize))
		if _, err := br.Peek(n); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	if brw.Writer.Buffered() > 0 { // net/http flushes before hijacking; keep it that way
		if err := brw.Writer.Flush(); err != nil {
			_ = conn.Close()
			return nil, nil, err
		}
	}
	w.sc, w.br = newSockConn(conn), br
	return w.sc, bufio.NewReadWriter(br, bufio.NewWriterSize(w.sc, writeBufferSize)), nil
}

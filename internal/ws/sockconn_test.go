package ws

import (
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// tcpPair returns both ends of a loopback TCP connection, the server's
// with a small send buffer so that writes back up soon.
func tcpPair(t *testing.T) (server *net.TCPConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		t.Fatal("accept failed")
	}
	server = c.(*net.TCPConn)
	_ = server.SetWriteBuffer(16 << 10)
	_ = client.(*net.TCPConn).SetReadBuffer(16 << 10)
	t.Cleanup(func() { _ = server.Close(); _ = client.Close() })
	return server, client
}

// TestSockConnKeepsOrderWhenBackedUp writes with tryWrite until the socket
// backs up, goes on with writeData (a dedicated writer) while the library
// writes a control frame, and checks that the peer reads every byte in
// the order it was committed.
func TestSockConnKeepsOrderWhenBackedUp(t *testing.T) {
	server, client := tcpPair(t)
	sc := newSockConn(server)
	if sc.raw == nil {
		t.Fatal("a TCP socket must write without blocking")
	}
	var want bytes.Buffer
	chunk := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 8<<10) }
	i := 0
	for ; ; i++ {
		p := chunk(i)
		taken, blocked, err := sc.tryWrite(p)
		if err != nil {
			t.Fatal(err)
		}
		if taken {
			want.Write(p)
		}
		if blocked {
			break
		}
		if i > 10000 {
			t.Fatal("the socket never backed up")
		}
	}
	read := make(chan []byte)
	go func() {
		time.Sleep(50 * time.Millisecond) // let the writers block first
		b, _ := io.ReadAll(client)
		read <- b
	}()
	var wg sync.WaitGroup
	wg.Go(func() {
		for j := i + 1; j < i+20; j++ {
			if err := sc.writeData(chunk(j)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	for j := i + 1; j < i+20; j++ {
		want.Write(chunk(j))
	}
	ping := []byte{0x89, 0} // a control frame written by the library
	if _, err := sc.Write(ping); err != nil {
		t.Fatal(err)
	}
	want.Write(ping)
	_ = server.CloseWrite()
	if got := <-read; !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("peer read %d bytes, want %d in order", len(got), want.Len())
	}
}

// TestSockConnNoDataAfterClose: once the library wrote a close frame, data
// frames are refused on both paths.
func TestSockConnNoDataAfterClose(t *testing.T) {
	server, _ := tcpPair(t)
	sc := newSockConn(server)
	if _, err := sc.Write([]byte{0x88, 2, 0x03, 0xe8}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := sc.tryWrite([]byte{0x81, 0}); !errors.Is(err, errDataClosed) {
		t.Fatalf("tryWrite after close: %v", err)
	}
	if err := sc.writeData([]byte{0x81, 0}); !errors.Is(err, errDataClosed) {
		t.Fatalf("writeData after close: %v", err)
	}
}

// TestSockConnWithoutRawWrites: a socket that cannot write without
// blocking (TLS) hands every data frame to a dedicated writer.
func TestSockConnWithoutRawWrites(t *testing.T) {
	a, b := net.Pipe()
	t.Cleanup(func() { _ = a.Close(); _ = b.Close() })
	sc := newSockConn(a)
	taken, blocked, err := sc.tryWrite([]byte("x"))
	if taken || !blocked || err != nil {
		t.Fatalf("tryWrite: taken=%v blocked=%v err=%v; want a hand-over", taken, blocked, err)
	}
	go func() { _ = sc.writeData([]byte("xy")) }()
	buf := make([]byte, 2)
	if _, err := io.ReadFull(b, buf); err != nil || string(buf) != "xy" {
		t.Fatalf("read %q, %v", buf, err)
	}
}

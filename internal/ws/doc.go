// Package ws owns WebSocket sessions: the hello and its deadline, token
// checks, resume through the hub, writing what the bounded queue holds in
// coalesced frames, pings, and close codes.
//
// Writing: a session's data frames are built here (RFC 6455 text frames;
// compression is off) and written straight to the socket, not through the
// library's writer. While a socket takes writes at once, a small pool of
// goroutines (one per CPU, started when work arrives) gives each session
// with waiting messages a turn, so a fan-out to thousands of sockets is a
// few goroutines making one write(2) each, with no goroutine started per
// socket. A socket that backs up (a slow client, or TLS, whose writes can
// block) is handed to a dedicated writer goroutine of its own until its
// queue is empty; the write watchdog bounds its blocking writes. The
// library keeps the reads and the control frames (pong, close), written
// through the same socket wrapper in one order (see sockConn).
package ws

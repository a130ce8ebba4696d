package ws

import (
	"bufio"
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/transport"
	"github.com/alarmgate/alarmgate/protocol"
)

// pingMsg is the encoded protocol.Ping, shared by every session.
var pingMsg = []byte(`{"type":"` + protocol.TypePing + `"}`)

// session is one WebSocket connection. The goroutine running readLoop is
// its only reader (owned by Server, counted in Server.wg until end
// returns). Its data frames are written only while its queue has
// messages: in turns on the server's writer pool while the socket takes
// writes at once, else by a dedicated writer goroutine until the queue is
// empty (see sockConn); the queue's running flag says one of them holds
// the writing. Timers fire pings, the hello deadline and token expiry.
// Dedicated writers, closes and timer callbacks run in s.goroutines, and
// a pool worker joins it for its turn, so end waits for them all.
type session struct {
	srv    *Server
	wsConn *websocket.Conn // the socket, for reads and control frames
	sc     *sockConn       // the socket, for data frames
	br     *bufio.Reader   // what the library reads the socket through; see watchGone
	remote string
	ctx    context.Context // ends when the session ends
	cancel context.CancelFunc

	part       *transport.Resumer         // set by start after the hello: the partition serving this session
	hubConn    *hub.Conn                  // set by start before registration; the hub's side of this session
	expiry     *time.Timer                // set by start; closes with 4001 at the token's exp
	pinger     atomic.Pointer[time.Timer] // set by start, re-armed by ping
	lastWrite  atomic.Int64               // unix nanos of the last frame written
	closeOnce  sync.Once
	counted    bool  // set by start once live; end uncounts it in the transport gauge
	goroutines group // writers, closes, timer callbacks; end waits for them
}

func newSession(s *Server, wsConn *websocket.Conn, sc *sockConn, br *bufio.Reader, remote string) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{srv: s, wsConn: wsConn, sc: sc, br: br, remote: remote, ctx: ctx, cancel: cancel}
}

// close sends a close frame with code once and ends the session.
func (s *session) close(code protocol.CloseCode, reason string) {
	s.closeOnce.Do(func() {
		s.srv.m.Closes.WithLabelValues(transport.CloseLabel(code)).Inc()
		_ = s.wsConn.Close(websocket.StatusCode(code), reason)
		s.cancel()
	})
}

// start runs on the HTTP handler's goroutine: it reads the hello,
// resumes and registers. When it returns true the session is live and
// readLoop takes over on a fresh goroutine, so the deep stack of the HTTP
// server is not kept for the life of an idle socket.
func (s *session) start() bool {
	helloTimer := time.AfterFunc(s.srv.cfg.HelloTimeout, s.goroutines.Func(func() { s.close(protocol.CloseNoHello, "no hello in time") }))
	h, claims, ok := s.readHello()
	helloTimer.Stop()
	if !ok {
		return false
	}
	var err error
	if s.part, err = s.srv.parts.For(claims.Subject, claims.Channels); err != nil {
		s.close(protocol.CloseAuth, err.Error())
		return false
	}
	if !s.part.Feed.Ready() {
		s.close(protocol.CloseTryLater, "node not ready")
		return false
	}
	resume := s.resumeRequest(h)
	// The queue asks for a writer when a message arrives (see
	// startWriter). The kick's close runs in s.goroutines: the hub kicks on
	// an epoch change or a slow client (close returns when the handshake
	// ends or end closes the socket).
	s.hubConn = s.part.Hub.NewConn(claims.AllChannels(), s.startWriter, func(code protocol.CloseCode, reason string) {
		s.goroutines.Go(func() { s.close(code, reason) })
	})
	s.hubConn.Inbox = claims.Inbox() // the inbox: its counts go in the welcome
	s.lastWrite.Store(time.Now().UnixNano())
	stopWatch := s.watchGone()
	w, ok := s.resume(resume)
	stopWatch()
	if !ok {
		return false
	}
	s.srv.m.Transport.WithLabelValues(transportLabel).Inc()
	s.counted = true
	s.srv.log.Debug("ws: session started", "remote", s.remote, "sub", claims.Subject,
		"status", w.Status, "replayed", w.Replayed)
	if !claims.Expires.IsZero() {
		s.expiry = time.AfterFunc(time.Until(claims.Expires), s.goroutines.Func(func() { s.close(protocol.CloseAuth, "token expired") }))
	}
	t := time.AfterFunc(time.Duration(math.MaxInt64), s.goroutines.Func(s.ping)) // armed once stored: ping re-arms it
	s.pinger.Store(t)
	t.Reset(transport.Jitter(s.srv.cfg.PingInterval)) // not in lockstep with a reconnect storm
	return true
}

// resume registers the session with the hub, reading from the channel
// backlogs in Redis when last_id is older than the window. A failed read
// closes the session: 1012 when the log epoch changed meanwhile, else 1013.
func (s *session) resume(r hub.Resume) (hub.Welcome, bool) {
	w, err := s.part.Resume(s.ctx, s.hubConn, r)
	if err != nil {
		if !errors.Is(err, hub.ErrEpochChanged) && s.ctx.Err() == nil { // not: the client left (watchGone)
			s.srv.log.Warn("ws: resume from redis failed", "remote", s.remote, "err", err)
		}
		s.close(transport.ResumeClose(err))
	}
	return w, err == nil
}

// readLoop is the socket's only reader once the session is live. It
// serves client messages (state changes, see handle) one at a time, keeps
// control frames (pong, close) flowing and notices the end of the socket.
func (s *session) readLoop() {
	for {
		// No context: closing the session closes the socket, which ends
		// the read; a context would cost an AfterFunc per idle socket.
		typ, b, err := s.wsConn.Read(context.Background())
		if err != nil {
			return
		}
		if pause := s.handle(typ, b); pause > 0 && !s.pause(pause) {
			return
		}
	}
}

// maxReadPause caps how long readLoop stops reading after a refusal.
const maxReadPause = time.Second

// pause stops reading for d (at most maxReadPause) after a message over
// the user's rate: the client's further messages wait in the socket's
// buffers, so a flood slows to the rate TCP lets through instead of
// costing the node a decode and a refusal each. It reports false when the
// session ended meanwhile.
func (s *session) pause(d time.Duration) bool {
	t := time.NewTimer(min(d, maxReadPause))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// end releases everything the session holds and waits for its goroutines.
// It runs once, after start failed or readLoop returned, before the
// session leaves Server.wg.
func (s *session) end() {
	s.cancel()
	_ = s.wsConn.CloseNow()
	if s.hubConn != nil {
		s.part.Hub.Unregister(s.hubConn)
		s.hubConn.Queue.Close()
	}
	if s.counted {
		s.srv.m.Transport.WithLabelValues(transportLabel).Dec()
	}
	if s.expiry != nil {
		s.expiry.Stop()
	}
	if t := s.pinger.Load(); t != nil {
		t.Stop()
	}
	// The socket is closed, so writers and closes return; the queue is
	// closed, so no writer starts.
	s.goroutines.closeAndWait()
}

// readHello reads and checks the first message, closing with the
// protocol's code when it is unacceptable.
func (s *session) readHello() (protocol.Hello, auth.Claims, bool) {
	typ, b, err := s.wsConn.Read(s.ctx)
	if err != nil {
		if websocket.CloseStatus(err) == -1 && !errors.Is(err, context.Canceled) {
			s.close(protocol.CloseProtocol, "bad hello")
		}
		return protocol.Hello{}, auth.Claims{}, false
	}
	h, err := decodeHello(typ, b)
	if errors.Is(err, errNoToken) {
		s.close(protocol.CloseAuth, "token missing")
		return protocol.Hello{}, auth.Claims{}, false
	}
	if err != nil {
		s.close(protocol.CloseProtocol, err.Error())
		return protocol.Hello{}, auth.Claims{}, false
	}
	claims, err := s.srv.verify.Verify(h.Token)
	if err != nil {
		s.srv.log.Debug("ws: token rejected", "remote", s.remote, "err", err)
		s.close(protocol.CloseAuth, "invalid token")
		return protocol.Hello{}, auth.Claims{}, false
	}
	return h, claims, true
}

var (
	errNotText   = errors.New("hello must be a text frame")
	errBadHello  = errors.New("hello must be a JSON object")
	errNotHello  = errors.New("first message must be hello")
	errNoToken   = errors.New("hello needs a token")
	errBadUTF8   = errors.New("hello must be valid UTF-8")
	errHelloKeys = errors.New("hello has a duplicate or mis-cased field")
)

// decodeHello parses the hello frame (see readHelloJSON).
func decodeHello(typ websocket.MessageType, b []byte) (protocol.Hello, error) {
	if typ != websocket.MessageText {
		return protocol.Hello{}, errNotText
	}
	if !utf8.Valid(b) {
		return protocol.Hello{}, errBadUTF8
	}
	h, err := readHelloJSON(b)
	if err != nil {
		return protocol.Hello{}, err
	}
	if h.Type != protocol.TypeHello {
		return protocol.Hello{}, errNotHello
	}
	if h.Token == "" {
		return protocol.Hello{}, errNoToken
	}
	return h, nil
}

// resumeRequest turns the hello's position into a hub.Resume, first
// catching up when the client is ahead of this node.
func (s *session) resumeRequest(h protocol.Hello) hub.Resume {
	return s.part.Request(s.ctx, h.LastID, h.Epoch)
}

// ping runs on its timer: after PingInterval without a write it queues an
// application ping and checks the peer with a WebSocket ping.
func (s *session) ping() {
	if s.ctx.Err() != nil {
		return
	}
	idle := time.Since(time.Unix(0, s.lastWrite.Load()))
	next := s.srv.cfg.PingInterval - idle
	if next <= 0 {
		s.hubConn.Queue.Push(pingMsg)
		ctx, cancel := context.WithTimeout(s.ctx, s.srv.cfg.WriteTimeout)
		err := s.wsConn.Ping(ctx)
		cancel()
		if err != nil {
			s.cancel()
			_ = s.wsConn.CloseNow()
			return
		}
		next = s.srv.cfg.PingInterval
	}
	if t := s.pinger.Load(); t != nil {
		t.Reset(next) // the timer that called us: no new one per ping
	}
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/protocol"
)

// outcome is how one connection attempt ended.
type outcome struct {
	disc     Disconnect
	welcomed bool  // a welcome arrived on this connection
	fatal    error // Run must return this
}

// session is one WebSocket connection. Only Run's goroutine touches it,
// except for the reader goroutine, which owns conn's reads and sends what
// it reads on reads.
type session struct {
	c        *Client
	h        Handler
	endpoint string
	conn     *websocket.Conn
	reads    chan readResult
	welcomed bool
	epoch    string      // the welcome's epoch
	last     protocol.ID // alarms at or below it are duplicates
}

// readResult is one message read, or the error that ended reading.
type readResult struct {
	b   []byte
	err error
}

// connect runs one connection attempt from Token to disconnect.
func (c *Client) connect(ctx context.Context, h Handler) outcome {
	endpoint := c.nextEndpoint()
	out := outcome{disc: Disconnect{Code: -1, Endpoint: endpoint}}
	token, err := c.cfg.Token(ctx)
	if err != nil {
		out.fatal = fmt.Errorf("client: token: %w", err)
		return out
	}
	conn, err := c.dial(ctx, endpoint, token)
	if err != nil {
		out.disc.Err = err
		return out
	}
	s := &session{c: c, h: h, endpoint: endpoint, conn: conn, reads: make(chan readResult, 16)}
	s.run(ctx, &out)
	return out
}

// dial opens the WebSocket and sends hello with the current position.
func (c *Client) dial(ctx context.Context, endpoint, token string) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.DialTimeout)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, endpoint, &websocket.DialOptions{
		HTTPClient: c.cfg.HTTPClient,
		HTTPHeader: c.cfg.HTTPHeader,
	})
	if err != nil {
		return nil, fmt.Errorf("client: dial: %w", err)
	}
	conn.SetReadLimit(readLimit)
	lastID, epoch := c.Position()
	msg, err := json.Marshal(newHello(token, lastID, epoch))
	if err == nil {
		err = conn.Write(ctx, websocket.MessageText, msg)
	}
	if err != nil {
		_ = conn.CloseNow()
		return nil, fmt.Errorf("client: send hello: %w", err)
	}
	return conn, nil
}

// run handles the connection until it ends or ctx is done.
func (s *session) run(ctx context.Context, out *outcome) {
	readCtx, stopReader := context.WithCancel(context.WithoutCancel(ctx))
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		s.read(readCtx)
	}()
	defer func() {
		s.c.setConn(nil)
		stopReader()
		_ = s.conn.CloseNow()
		<-readerDone
	}()
	welcomeTimer := time.NewTimer(s.c.cfg.DialTimeout)
	defer welcomeTimer.Stop()
	for {
		select {
		case <-ctx.Done():
			// The reader keeps reading, so Close sees the server's close frame.
			_ = s.conn.Close(websocket.StatusNormalClosure, "")
			return
		case <-welcomeTimer.C:
			out.disc.Err = ErrWelcomeTimeout
			return
		case r := <-s.reads:
			if r.err != nil {
				out.disc.Err = r.err
				if ce := (websocket.CloseError{}); errors.As(r.err, &ce) {
					out.disc.Code, out.disc.Reason = protocol.CloseCode(ce.Code), ce.Reason
				}
				return
			}
			err := s.handleFrame(r.b)
			out.welcomed = s.welcomed
			if s.welcomed {
				welcomeTimer.Stop()
			}
			if err != nil {
				s.c.cfg.Logger.Warn("client: dropping connection", "err", err)
				out.disc.Err = err
				_ = s.conn.Close(websocket.StatusProtocolError, "bad message")
				return
			}
		}
	}
}

// read reads messages until an error, each with IdleTimeout as deadline.
// Reading continuously also answers the server's WebSocket pings.
func (s *session) read(ctx context.Context) {
	for {
		rctx, cancel := context.WithTimeout(ctx, s.c.cfg.IdleTimeout)
		_, b, err := s.conn.Read(rctx)
		idle := errors.Is(rctx.Err(), context.DeadlineExceeded)
		cancel()
		if err != nil && idle && ctx.Err() == nil {
			err = fmt.Errorf("%w after %v", ErrIdleTimeout, s.c.cfg.IdleTimeout)
		}
		select {
		case s.reads <- readResult{b: b, err: err}:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}

// handleFrame dispatches every message of one frame.
func (s *session) handleFrame(b []byte) error {
	for _, line := range splitFrame(b) {
		if s.h.Raw != nil {
			s.h.Raw(line)
		}
		m, err := decodeMessage(line)
		if err != nil {
			return err
		}
		switch m.Type {
		case protocol.TypeWelcome:
			err = s.onWelcome(welcomeOf(m.Welcome()))
		case protocol.TypeAlarm:
			err = s.onAlarm(m.Alarm())
		case protocol.TypeState:
			err = s.onState(m.State())
		case protocol.TypeError:
			if s.h.Error != nil {
				s.h.Error(protocol.Error{Type: m.Type, Error: m.Error, Message: m.Message, RetryAfterMS: m.RetryAfterMS})
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (s *session) onWelcome(w Welcome) error {
	if s.welcomed {
		return fmt.Errorf("%w: second welcome", ErrBadMessage)
	}
	last, err := s.c.applyWelcome(w)
	if err != nil {
		return err
	}
	s.welcomed, s.epoch, s.last = true, w.Epoch, last
	s.c.setConn(s.conn)
	s.c.cfg.Logger.Debug("client: welcome", "node", w.Node, "epoch", w.Epoch,
		"position", w.Position, "status", w.Status, "replayed", w.Replayed)
	if v := s.c.inbox.Load(); v != nil {
		v.onWelcome(w, s.endpoint, last)
	}
	if s.h.Welcome != nil {
		s.h.Welcome(w)
	}
	return nil
}

func (s *session) onAlarm(m protocol.Alarm) error {
	return s.onEntry(m.ID, func() {
		a := alarmOf(m)
		if v := s.c.inbox.Load(); v != nil {
			v.onAlarm(a)
		}
		if s.h.Alarm != nil {
			s.h.Alarm(a)
		}
	})
}

func (s *session) onState(m protocol.State) error {
	return s.onEntry(m.ID, func() {
		st := stateOf(m)
		if v := s.c.inbox.Load(); v != nil {
			v.onState(st)
		}
		if s.h.State != nil {
			s.h.State(st)
		}
	})
}

// onEntry delivers a message of the log (alarm or state event) with
// idStr once, in id order, and moves the position past it.
func (s *session) onEntry(idStr string, deliver func()) error {
	if !s.welcomed {
		return fmt.Errorf("%w: alarm before welcome", ErrBadMessage)
	}
	id, err := protocol.ParseID(idStr)
	if err != nil {
		return fmt.Errorf("%w: alarm id %q", ErrBadMessage, idStr)
	}
	if !s.last.Less(id) {
		s.c.dups.Add(1)
		s.c.cfg.Logger.Debug("client: duplicate alarm dropped", "id", idStr, "last", s.last)
		return nil
	}
	s.last = id
	deliver()
	s.c.delivered(idStr, id, s.epoch)
	return nil
}

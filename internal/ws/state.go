package ws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/strictjson"
	"github.com/alarmgate/alarmgate/protocol"
)

// States applies inbox state changes; *stream.Store implements it, and
// *limit.Inbox, which limits each user's changes, wraps it.
type States interface {
	// ChangeState applies c to the inbox channel and appends the state
	// event to the log when anything changed.
	ChangeState(ctx context.Context, channel string, c protocol.StateChange) (stream.StateResult, error)
}

// handle serves one client message after the hello. Hostile input (a
// binary frame, invalid UTF-8) closes the socket with 4000; a message of
// an unknown type is ignored (newer clients keep working); anything else
// that is wrong is answered with an error message. A state change's answer
// is its state event, which comes back through the log like an alarm (a
// change that changes nothing is not answered). A change over the user's
// rate (states is a *limit.Inbox) is answered rate_limited, with the wait,
// and the socket stays open; handle then returns that wait, for which
// readLoop stops reading (0 otherwise).
func (s *session) handle(typ websocket.MessageType, b []byte) time.Duration {
	if typ != websocket.MessageText || !utf8.Valid(b) {
		s.close(protocol.CloseProtocol, "client messages must be UTF-8 text")
		return 0
	}
	var head struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(b), &head); err != nil {
		s.sendError(protocol.CodeBadRequest, "a client message must be a JSON object with a type")
		return 0
	}
	if head.Type != protocol.TypeState {
		return 0 // unknown types are ignored, so newer clients keep working
	}
	c, err := decodeStateChange(b)
	if err != nil {
		s.sendError(protocol.CodeBadRequest, "a state message has op, and ids or up_to")
		return 0
	}
	if s.srv.states == nil || s.hubConn.Inbox == "" {
		s.sendError(protocol.CodeNoInbox, "this gateway keeps no inbox state")
		return 0
	}
	ctx, cancel := context.WithTimeout(s.ctx, s.srv.cfg.CatchUpTimeout)
	defer cancel()
	_, err = s.srv.states.ChangeState(ctx, s.hubConn.Inbox, c)
	var limited *limit.LimitedError
	switch {
	case err == nil:
	case errors.As(err, &limited):
		s.queueError(protocol.Error{Type: protocol.TypeError, Error: protocol.CodeRateLimited,
			Message: "too many state changes for this user; retry later", RetryAfterMS: ceilMS(limited.Wait)})
		return limited.Wait
	case errors.Is(err, stream.ErrInvalidChange):
		s.sendError(protocol.CodeBadRequest, err.Error())
	case errors.Is(err, stream.ErrNoInbox):
		s.sendError(protocol.CodeNoInbox, "this connection has no inbox")
	default:
		s.srv.log.Warn("ws: state change failed", "remote", s.remote, "err", err)
		s.sendError(protocol.CodeUnavailable, "the state change failed; retry")
	}
	return 0
}

// errTrailing: a client message holds more than one JSON value.
var errTrailing = errors.New("unexpected data after the JSON object")

// decodeStateChange decodes a state message: one object of
// protocol.StateChange's fields, each named exactly and given once.
func decodeStateChange(b []byte) (protocol.StateChange, error) {
	var c protocol.StateChange
	fields := []strictjson.Field{
		{Name: "type", Dst: &c.Type},
		{Name: "op", Dst: &c.Op},
		{Name: "ids", Dst: &c.IDs},
		{Name: "up_to", Dst: &c.UpTo},
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := strictjson.DecodeObject(dec, fields, false); err != nil {
		return protocol.StateChange{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return protocol.StateChange{}, errTrailing
	}
	return c, nil
}

// sendError queues an error message.
func (s *session) sendError(code protocol.ErrorCode, msg string) {
	s.queueError(protocol.Error{Type: protocol.TypeError, Error: code, Message: msg})
}

// queueError queues an error message.
func (s *session) queueError(e protocol.Error) {
	b, _ := json.Marshal(e)
	s.hubConn.Queue.Push(b)
}

// ceilMS is d in whole milliseconds, rounded up, at least 1.
func ceilMS(d time.Duration) int64 {
	return max(1, int64((d+time.Millisecond-1)/time.Millisecond))
}

package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/protocol"
)

// ErrNotConnected: ChangeState was called while the client has no
// welcomed connection.
var ErrNotConnected = errors.New("client: not connected")

// State is one state event: a change of the state of inbox alarms, made
// by any device of the user. Op applies to IDs, or, when UpTo is set, to
// every inbox alarm with an id at or below UpTo. Counts are the inbox
// counts after it.
type State struct {
	ID              string   `json:"id"`
	Channel         string   `json:"channel"`
	Op              string   `json:"op"`
	IDs             []string `json:"ids,omitempty"`
	UpTo            string   `json:"up_to,omitempty"`
	protocol.Counts          // unread, unseen
	TS              int64    `json:"ts"`
}

// stateOf returns the State event for a state message.
func stateOf(m protocol.State) State {
	return State{ID: m.ID, Channel: m.Channel, Op: m.Op, IDs: m.IDs, UpTo: m.UpTo, TS: m.TS,
		Counts: protocol.Counts{Unread: m.Unread, Unseen: m.Unseen}}
}

// ChangeState sends a state change (protocol.OpRead etc.) for ids, or for
// every inbox alarm up to upTo when ids is empty, over the current
// connection. Its effect arrives as a State event on every connection of
// the user, this one included; a change that changes nothing arrives as
// nothing, and a refused one as a Handler.Error. Safe from any goroutine.
func (c *Client) ChangeState(ctx context.Context, op string, ids []string, upTo string) error {
	b, err := json.Marshal(protocol.StateChange{Type: protocol.TypeState, Op: op, IDs: ids, UpTo: upTo})
	if err != nil {
		return fmt.Errorf("client: encode state change: %w", err)
	}
	c.mu.Lock()
	conn := c.conn
	c.mu.Unlock()
	if conn == nil {
		return ErrNotConnected
	}
	if err := conn.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: send state change: %w", err)
	}
	return nil
}

// setConn publishes the welcomed connection for ChangeState (nil: none).
func (c *Client) setConn(conn *websocket.Conn) {
	c.mu.Lock()
	c.conn = conn
	c.mu.Unlock()
}

// StateResult is the answer to Publisher.ChangeState. ID is the state
// event's id ("" when nothing changed and nothing was appended).
type StateResult struct {
	ID      string `json:"id"`
	Changed int    `json:"changed"`
	Unread  int    `json:"unread"`
	Unseen  int    `json:"unseen"`
}

// ChangeState changes the state of user's inbox alarms from the
// application's backend (POST /v1/inbox/state?user=): op on ids, or on
// every inbox alarm up to upTo when ids is empty.
func (p *Publisher) ChangeState(ctx context.Context, user, op string, ids []string, upTo string) (StateResult, error) {
	var res StateResult
	body := protocol.StateChange{Op: op, IDs: ids, UpTo: upTo}
	_, err := p.do(ctx, http.MethodPost, "/v1/inbox/state", url.Values{"user": {user}}, body, "", &res)
	return res, err
}

// InboxItem is one alarm of an inbox page with its state.
type InboxItem struct {
	Alarm    Alarm `json:"alarm"`
	Seen     bool  `json:"seen"`
	Read     bool  `json:"read"`
	Archived bool  `json:"archived"`
}

// Inbox is one page of GET /v1/inbox: items newest first, the counts, and
// Next, the before of the next page ("" on the last page).
type Inbox struct {
	Epoch  string      `json:"epoch"`
	Unread int         `json:"unread"`
	Unseen int         `json:"unseen"`
	Items  []InboxItem `json:"items"`
	Next   string      `json:"next"`
}

// InboxQuery selects a page of an inbox. Zero fields: from the newest, the
// server's default limit, no filter.
type InboxQuery struct {
	Before   string
	Limit    int
	Unread   *bool // only unread (true) or read (false) alarms
	Archived *bool // only archived (true) or unarchived (false) alarms
}

// Inbox reads one page of user's inbox (GET /v1/inbox?user=).
func (p *Publisher) Inbox(ctx context.Context, user string, q InboxQuery) (Inbox, error) {
	v := url.Values{"user": {user}}
	if q.Before != "" {
		v.Set("before", q.Before)
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	if q.Unread != nil {
		v.Set("unread", strconv.FormatBool(*q.Unread))
	}
	if q.Archived != nil {
		v.Set("archived", strconv.FormatBool(*q.Archived))
	}
	var in Inbox
	_, err := p.do(ctx, http.MethodGet, "/v1/inbox", v, nil, "", &in)
	return in, err
}

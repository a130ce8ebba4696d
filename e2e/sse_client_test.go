package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/protocol"
)

// runSSE is a resuming client over Server-Sent Events, as a browser's
// client.js with transport 'sse' behaves: per connect it trades its token
// for a ticket, opens /v1/sse on the next node with last_event_id
// `<epoch>/<id>`, and records every welcome and alarm exactly as received
// (hd.Raw) and every end (hd.Disconnect: the close event's code, or -1 for
// a stream that broke). It returns when ctx ends, leaving its position in
// c.lastPos.
func (c *recClient) runSSE(ctx context.Context, hd client.Handler, lastID, epoch string) {
	extra := c.channels[1 : len(c.channels)-1]
	tok := c.h.token(c.sub, extra)
	attempt := 0
	for i := 0; ctx.Err() == nil; i++ {
		base := "http://" + c.h.addrs[i%len(c.h.addrs)]
		d := c.sseOnce(ctx, base, tok, hd, &lastID, &epoch)
		if ctx.Err() != nil {
			break
		}
		hd.Disconnect(d)
		delay := time.Duration(0)
		if d.Code != protocol.CloseRestart || attempt > 0 {
			delay = min(time.Second, 50*time.Millisecond<<min(attempt, 5))
			attempt++
		} else {
			attempt = 1
		}
		sleepCtx(ctx, delay)
	}
	c.mu.Lock()
	c.lastPos = [2]string{lastID, epoch}
	c.mu.Unlock()
}

// sseOnce runs one stream and says how it ended.
func (c *recClient) sseOnce(ctx context.Context, base, tok string, hd client.Handler, lastID, epoch *string) client.Disconnect {
	out := client.Disconnect{Code: -1, Endpoint: base + "/v1/sse"}
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	ticket, err := client.SSETicket(tctx, c.h.httpc, base, tok)
	cancel()
	if err != nil {
		out.Err = err
		return out
	}
	q := url.Values{"ticket": {ticket}}
	if *lastID != "" {
		q.Set("last_event_id", protocol.FormatEventID(*epoch, protocol.MustParseID(*lastID)))
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	req, _ := http.NewRequestWithContext(sctx, http.MethodGet, out.Endpoint+"?"+q.Encode(), nil)
	res, err := c.h.httpc.Do(req)
	if err != nil {
		out.Err = err
		return out
	}
	defer func() { _ = res.Body.Close() }()
	if res.StatusCode != http.StatusOK {
		out.Err = fmt.Errorf("sse: HTTP %d", res.StatusCode)
		return out
	}
	// A stream with nothing for 60 s is dead (heartbeats come every 20 s).
	idle := time.AfterFunc(60*time.Second, stop)
	defer idle.Stop()
	out.Err = client.ReadSSE(res.Body, func(e client.SSEEvent) error {
		idle.Reset(60 * time.Second)
		var m protocol.Message
		if e.Data == "" || json.Unmarshal([]byte(e.Data), &m) != nil {
			return nil
		}
		switch m.Type {
		case protocol.TypeWelcome:
			hd.Raw([]byte(e.Data))
			*lastID, *epoch = m.Position, m.Epoch
		case protocol.TypeAlarm:
			hd.Raw([]byte(e.Data))
			*lastID = m.ID
		case protocol.TypeClose:
			out.Code, out.Reason = m.Code, m.Reason
			stop()
		}
		return nil
	})
	return out
}

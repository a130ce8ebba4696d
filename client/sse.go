package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
)

// SSEEvent is one Server-Sent Event as read from /v1/sse: Event is the
// message type (welcome, alarm, ping, close), ID the event id
// (`<epoch>/<id>` for welcomes and alarms, "" for others) and Data the
// message's JSON.
type SSEEvent struct {
	Event string
	ID    string
	Data  string
	Retry string // the retry field's value, when the event carried one
}

// ReadSSE parses an event stream and calls fn for every event (and for
// a bare retry field) until r ends, fn returns an error, or a line is
// longer than 1 MiB. Comments are skipped.
func ReadSSE(r io.Reader, fn func(SSEEvent) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev SSEEvent
	var data []string
	dirty := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			if dirty {
				ev.Data = strings.Join(data, "\n")
				if err := fn(ev); err != nil {
					return err
				}
			}
			ev, data, dirty = SSEEvent{}, nil, false
			continue
		}
		if strings.HasPrefix(line, ":") {
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		value = strings.TrimPrefix(value, " ")
		dirty = true
		switch field {
		case "event":
			ev.Event = value
		case "id":
			ev.ID = value
		case "data":
			data = append(data, value)
		case "retry":
			ev.Retry = value
		}
	}
	return sc.Err()
}

// SSETicket trades a client token for an SSE ticket at baseURL (the node's
// http://host:port) and returns it.
func SSETicket(ctx context.Context, hc *http.Client, baseURL, token string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseURL+"/v1/sse/ticket", nil)
	if err != nil {
		return "", fmt.Errorf("client: ticket: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", fmt.Errorf("client: ticket: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return "", readAPIError(resp)
	}
	var body struct {
		Ticket string `json:"ticket"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("client: ticket: %w", err)
	}
	return body.Ticket, nil
}

package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

// Publisher publishes alarms and reads history over the gateway's HTTP API.
// The zero value needs BaseURL and APIKey set; a Publisher is safe for
// concurrent use once configured and must not be modified after that.
type Publisher struct {
	// BaseURL is any node's HTTP address, e.g. "http://127.0.0.1:8080".
	BaseURL string
	// APIKey is sent as "Authorization: Bearer <APIKey>".
	APIKey string
	// HTTPClient sends the requests. Default: a client with a 10s timeout
	// over http.DefaultTransport.
	HTTPClient *http.Client
}

// Published is an accepted alarm.
type Published struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	Epoch   string `json:"epoch"`
	// Replayed: the idempotency key was seen before; ID is the alarm
	// accepted then and no second alarm exists.
	Replayed bool `json:"replayed"`
}

// APIError is a non-2xx answer of the gateway, or an error item of a batch.
// A non-2xx answer means the alarm was not accepted; retrying with the same
// idempotency key is safe.
type APIError struct {
	Status int // HTTP status; 0 for a batch item
	// Code is the gateway's error code (protocol.CodeInvalidChannel,
	// protocol.CodeRateLimited, ...), or "http_<status>" for an answer
	// without the gateway's error body (a proxy's error page, say).
	Code       protocol.ErrorCode
	Message    string
	RetryAfter time.Duration // from Retry-After (503), else 0
}

// Error implements error.
func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("gateway: ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d ", e.Status)
	}
	b.WriteString(string(e.Code))
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// BatchItem is one alarm of PublishBatch.
type BatchItem struct {
	Channel        string
	Event          string
	Data           any // encoded with encoding/json; json.RawMessage is sent as is
	IdempotencyKey string
}

// BatchResult is the outcome of one BatchItem: Err is nil when accepted.
type BatchResult struct {
	Published
	Err *APIError
}

// History is one page of retained alarms on a channel, oldest first.
type History struct {
	Epoch  string
	Alarms []Alarm
	// Complete is false when alarms after the requested id were already
	// trimmed away: there is a gap before Alarms.
	Complete bool
	// Next is the after value for the following page: the id of the last
	// alarm returned, or the requested after when none was returned.
	Next string
}

type errorBody struct {
	Error *struct {
		Code    protocol.ErrorCode `json:"code"`
		Message string             `json:"message"`
	} `json:"error"`
}

func (b errorBody) apiError(status int) *APIError {
	if b.Error == nil {
		return nil
	}
	return &APIError{Status: status, Code: b.Error.Code, Message: b.Error.Message}
}

// Publish publishes one alarm and returns once the gateway accepted it. An
// empty idempotencyKey sends none. Errors from the gateway are *APIError.
func (p *Publisher) Publish(ctx context.Context, channel, event string, data any, idempotencyKey string) (Published, error) {
	raw, err := marshalData(data)
	if err != nil {
		return Published{}, err
	}
	body := map[string]any{"channel": channel, "event": event, "data": raw}
	var out Published
	hdr, err := p.do(ctx, http.MethodPost, "/v1/alarms", nil, body, idempotencyKey, &out)
	if err != nil {
		return Published{}, err
	}
	out.Replayed = strings.EqualFold(hdr.Get("Idempotent-Replayed"), "true")
	return out, nil
}

// PublishBatch publishes up to 1000 alarms in one request. It returns one
// result per item, in order; an error only when the request as a whole
// failed (then no item was accepted by this call).
func (p *Publisher) PublishBatch(ctx context.Context, items []BatchItem) ([]BatchResult, error) {
	type wireItem struct {
		Channel        string          `json:"channel"`
		Event          string          `json:"event"`
		Data           json.RawMessage `json:"data"`
		IdempotencyKey string          `json:"idempotency_key,omitempty"`
	}
	req := struct {
		Alarms []wireItem `json:"alarms"`
	}{Alarms: make([]wireItem, len(items))}
	for i, it := range items {
		raw, err := marshalData(it.Data)
		if err != nil {
			return nil, fmt.Errorf("client: batch item %d: %w", i, err)
		}
		req.Alarms[i] = wireItem{it.Channel, it.Event, raw, it.IdempotencyKey}
	}
	var resp struct {
		Results []struct {
			Published
			errorBody
		} `json:"results"`
	}
	if _, err := p.do(ctx, http.MethodPost, "/v1/alarms/batch", nil, req, "", &resp); err != nil {
		return nil, err
	}
	if len(resp.Results) != len(items) {
		return nil, fmt.Errorf("client: batch: %d results for %d items", len(resp.Results), len(items))
	}
	out := make([]BatchResult, len(items))
	for i, r := range resp.Results {
		out[i] = BatchResult{Published: r.Published, Err: r.apiError(0)}
		if out[i].Err == nil && out[i].Channel == "" {
			out[i].Channel = items[i].Channel
		}
	}
	return out, nil
}

// History returns the retained alarms on channel with id > after (empty:
// from the oldest retained), at most limit of them (0: the server's
// default, 100).
func (p *Publisher) History(ctx context.Context, channel, after string, limit int) (History, error) {
	q := url.Values{"channel": {channel}}
	if after != "" {
		q.Set("after", after)
	}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var resp struct {
		Epoch    string  `json:"epoch"`
		Alarms   []Alarm `json:"alarms"`
		Complete bool    `json:"complete"`
		Next     string  `json:"next"`
	}
	if _, err := p.do(ctx, http.MethodGet, "/v1/alarms", q, nil, "", &resp); err != nil {
		return History{}, err
	}
	h := History{Epoch: resp.Epoch, Alarms: resp.Alarms, Complete: resp.Complete, Next: resp.Next}
	if h.Next == "" {
		h.Next = after
		if n := len(h.Alarms); n > 0 {
			h.Next = h.Alarms[n-1].ID
		}
	}
	return h, nil
}

// marshalData encodes an alarm's data; nil becomes JSON null.
func marshalData(data any) (json.RawMessage, error) {
	if raw, ok := data.(json.RawMessage); ok && len(raw) > 0 {
		return raw, nil
	}
	b, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("client: encode data: %w", err)
	}
	return b, nil
}

// do sends one request with a JSON body (unless body is nil) and decodes a
// 2xx JSON answer into out. A non-2xx answer is an *APIError.
func (p *Publisher) do(ctx context.Context, method, path string, q url.Values, body any, idemKey string, out any) (http.Header, error) {
	u := strings.TrimRight(p.BaseURL, "/") + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("client: encode request: %w", err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	req.Header.Set("Authorization", "Bearer "+p.APIKey)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := p.httpClient().Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, readAPIError(resp)
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return nil, fmt.Errorf("client: %s %s: decode answer: %w", method, path, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	return resp.Header, nil
}

func (p *Publisher) httpClient() *http.Client {
	if p.HTTPClient != nil {
		return p.HTTPClient
	}
	return &http.Client{Timeout: 10 * time.Second}
}

// readAPIError builds the *APIError of a non-2xx answer.
func readAPIError(resp *http.Response) *APIError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var eb errorBody
	e := (*APIError)(nil)
	if json.Unmarshal(b, &eb) == nil {
		e = eb.apiError(resp.StatusCode)
	}
	if e == nil {
		e = &APIError{Status: resp.StatusCode, Code: protocol.ErrorCode("http_" + strconv.Itoa(resp.StatusCode)),
			Message: strings.TrimSpace(string(b))}
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

// parseRetryAfter reads a Retry-After value: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

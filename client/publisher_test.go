package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// newAPIServer serves handler and returns a Publisher for it.
func newAPIServer(t *testing.T, handler http.HandlerFunc) *Publisher {
	t.Helper()
	srv := httptest.NewServer(handler)
	t.Cleanup(srv.Close)
	return &Publisher{BaseURL: srv.URL + "/", APIKey: "k1", HTTPClient: srv.Client()}
}

func TestPublish(t *testing.T) {
	tests := []struct {
		name     string
		status   int
		replayed string
		want     Published
	}{
		{"created", http.StatusCreated, "", Published{ID: "5-0", Channel: "user:42", Epoch: "e1"}},
		{"replayed", http.StatusOK, "true", Published{ID: "5-0", Channel: "user:42", Epoch: "e1", Replayed: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/v1/alarms" {
					t.Errorf("%s %s", r.Method, r.URL.Path)
				}
				if r.Header.Get("Authorization") != "Bearer k1" || r.Header.Get("Content-Type") != "application/json" ||
					r.Header.Get("Idempotency-Key") != "key-1" {
					t.Errorf("headers %v", r.Header)
				}
				b, _ := io.ReadAll(r.Body)
				if string(b) != `{"channel":"user:42","data":{"order":7},"event":"order.shipped"}` {
					t.Errorf("body %s", b)
				}
				if tt.replayed != "" {
					w.Header().Set("Idempotent-Replayed", tt.replayed)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, `{"id":"5-0","channel":"user:42","epoch":"e1"}`)
			})
			got, err := p.Publish(context.Background(), "user:42", "order.shipped", map[string]int{"order": 7}, "key-1")
			if err != nil || got != tt.want {
				t.Errorf("Publish = %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestPublishErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		header map[string]string
		body   string
		want   APIError
	}{
		{"bad channel", 400, nil, `{"error":{"code":"invalid_channel","message":"bad name"}}`,
			APIError{Status: 400, Code: "invalid_channel", Message: "bad name"}},
		{"unauthorized", 401, nil, `{"error":{"code":"unauthorized","message":""}}`,
			APIError{Status: 401, Code: "unauthorized"}},
		{"redis down", 503, map[string]string{"Retry-After": "2"}, `{"error":{"code":"unavailable","message":"redis"}}`,
			APIError{Status: 503, Code: "unavailable", Message: "redis", RetryAfter: 2 * time.Second}},
		{"not json", 502, nil, "bad gateway\n", APIError{Status: 502, Code: "http_502", Message: "bad gateway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			_, err := p.Publish(context.Background(), "user:42", "e", nil, "")
			var ae *APIError
			if !errors.As(err, &ae) || *ae != tt.want {
				t.Fatalf("Publish error = %#v, want %#v", err, tt.want)
			}
			if ae.Error() == "" {
				t.Error("empty Error()")
			}
		})
	}
}

func TestPublishNoIdempotencyKeyAndRawData(t *testing.T) {
	p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Idempotency-Key"]; ok {
			t.Error("Idempotency-Key sent for empty key")
		}
		var body struct{ Data json.RawMessage }
		_ = json.NewDecoder(r.Body).Decode(&body)
		if string(body.Data) != `[1,2]` {
			t.Errorf("data %s", body.Data)
		}
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"1-0","channel":"c","epoch":"e"}`)
	})
	if _, err := p.Publish(context.Background(), "c", "e", json.RawMessage(`[1,2]`), ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(context.Background(), "c", "e", func() {}, ""); err == nil {
		t.Error("unencodable data accepted")
	}
}

func TestPublishBatch(t *testing.T) {
	p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/alarms/batch" {
			t.Errorf("path %s", r.URL.Path)
		}
		b, _ := io.ReadAll(r.Body)
		want := `{"alarms":[{"channel":"a","event":"e","data":{"x":1},"idempotency_key":"k"},` +
			`{"channel":"b:","event":"e","data":null}]}`
		if string(b) != want {
			t.Errorf("body %s\nwant %s", b, want)
		}
		io.WriteString(w, `{"results":[{"id":"7-0","epoch":"e1"},{"error":{"code":"invalid_channel","message":"m"}}]}`)
	})
	got, err := p.PublishBatch(context.Background(), []BatchItem{
		{Channel: "a", Event: "e", Data: map[string]int{"x": 1}, IdempotencyKey: "k"},
		{Channel: "b:", Event: "e"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Err != nil || got[0].Published != (Published{ID: "7-0", Channel: "a", Epoch: "e1"}) {
		t.Errorf("result 0 = %+v", got[0])
	}
	if len(got) == 2 && (got[1].Err == nil || *got[1].Err != (APIError{Code: "invalid_channel", Message: "m"})) {
		t.Errorf("result 1 = %+v", got[1])
	}
}

func TestPublishBatchCountMismatch(t *testing.T) {
	p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"results":[]}`)
	})
	if _, err := p.PublishBatch(context.Background(), []BatchItem{{Channel: "a", Event: "e"}}); err == nil {
		t.Error("PublishBatch accepted 0 results for 1 item")
	}
}

func TestHistory(t *testing.T) {
	tests := []struct {
		name, after string
		limit       int
		query       string
		body        string
		want        History
	}{
		{"first page", "", 0, "channel=user%3A42", `{"epoch":"e1","alarms":[` + alarmMsg("3-0") + `,` + alarmMsg("4-1") + `],"complete":true}`,
			History{Epoch: "e1", Complete: true, Next: "4-1"}},
		{"empty after", "9-0", 5, "after=9-0&channel=user%3A42&limit=5", `{"epoch":"e1","alarms":[],"complete":false}`,
			History{Epoch: "e1", Complete: false, Next: "9-0"}},
		{"server next", "1-0", 2, "after=1-0&channel=user%3A42&limit=2", `{"epoch":"e1","alarms":[` + alarmMsg("3-0") + `],"complete":true,"next":"8-0"}`,
			History{Epoch: "e1", Complete: true, Next: "8-0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodGet || r.URL.Path != "/v1/alarms" || r.URL.RawQuery != tt.query {
					t.Errorf("%s %s?%s", r.Method, r.URL.Path, r.URL.RawQuery)
				}
				if r.Header.Get("Authorization") != "Bearer k1" {
					t.Error("no API key")
				}
				io.WriteString(w, tt.body)
			})
			got, err := p.History(context.Background(), "user:42", tt.after, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got.Epoch != tt.want.Epoch || got.Complete != tt.want.Complete || got.Next != tt.want.Next {
				t.Errorf("History = %+v, want %+v", got, tt.want)
			}
			for _, a := range got.Alarms {
				if a.Channel != "user:42" || a.Event != "e" || len(a.Data) == 0 {
					t.Errorf("alarm %+v", a)
				}
			}
		})
	}
}

func TestDefaultHTTPClient(t *testing.T) {
	p := newAPIServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"id":"1-0","channel":"c","epoch":"e"}`)
	})
	p.HTTPClient = nil
	if c := p.httpClient(); c.Timeout != 10*time.Second {
		t.Errorf("default timeout %v", c.Timeout)
	}
	if _, err := p.Publish(context.Background(), "c", "e", 1, ""); err != nil {
		t.Fatal(err)
	}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"3", 3 * time.Second}, {"-3", 0}, {"soon", 0},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := parseRetryAfter(tt.in, now); got != tt.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

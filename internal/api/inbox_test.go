package api

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

const inboxSecret = "api-inbox-test-secret-0123456789"

// fakeInbox is an in-memory InboxStore that counts its calls per channel.
type fakeInbox struct {
	mu      sync.Mutex // guards the maps
	changes map[string]int
	reads   map[string]int
}

func (f *fakeInbox) ChangeState(_ context.Context, channel string, _ protocol.StateChange) (stream.StateResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.changes[channel]++
	return stream.StateResult{ID: protocol.ID{MS: 9}, Changed: 1, Counts: protocol.Counts{Unread: 1}, Epoch: testEpoch}, nil
}

func (f *fakeInbox) ReadInbox(_ context.Context, channel string, _ stream.InboxQuery) (stream.Inbox, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads[channel]++
	return stream.Inbox{Epoch: testEpoch}, nil
}

// newInboxEnv serves the API with its inbox routes behind a *limit.Inbox
// of cfg, as a node wires it, allowing pages on origins, and returns a
// client token of sub. Its refusals are answered at once (RefusalHold -1;
// see TestInboxRefusalHeld).
func newInboxEnv(t *testing.T, cfg limit.UserConfig, sub string, origins ...string) (*env, *fakeInbox, string) {
	t.Helper()
	return newInboxEnvHold(t, cfg, sub, -1, origins...)
}

// newInboxEnvHold is newInboxEnv with Config.RefusalHold hold.
func newInboxEnvHold(t *testing.T, cfg limit.UserConfig, sub string, hold time.Duration, origins ...string) (*env, *fakeInbox, string) {
	t.Helper()
	e := newEnv(t, Config{})
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(inboxSecret)})
	if err != nil {
		t.Fatal(err)
	}
	store := &fakeInbox{changes: map[string]int{}, reads: map[string]int{}}
	guard, err := limit.NewInbox(cfg, store, e.m, nil)
	if err != nil {
		t.Fatal(err)
	}
	a, err := New(Config{AllowedOrigins: origins, RefusalHold: hold}, e.store, mustKeys(t), e.m, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.mux = http.NewServeMux()
	a.WithInbox(guard, v).Register(e.mux)
	tok, err := v.Issue(sub, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return e, store, tok
}

// TestInboxLimitsPerUser: the user's token and an API key for the user
// draw on one bucket per user, for changes and for reads; beyond it 429
// rate_limited with Retry-After, before the store; other users are not
// affected.
func TestInboxLimitsPerUser(t *testing.T) {
	e, store, tok := newInboxEnv(t, limit.UserConfig{StateRate: 0.5, StateBurst: 2, InboxReadRate: 0.25, InboxReadBurst: 1}, "dee")
	change := `{"op":"read","ids":["1-0"]}`
	tests := []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"change with the token", http.MethodPost, "/v1/inbox/state", "Bearer " + tok, change, http.StatusOK},
		{"change with a key", http.MethodPost, "/v1/inbox/state?user=dee", "", change, http.StatusOK},
		{"change over the rate, token", http.MethodPost, "/v1/inbox/state", "Bearer " + tok, change, http.StatusTooManyRequests},
		{"change over the rate, key", http.MethodPost, "/v1/inbox/state?user=dee", "", change, http.StatusTooManyRequests},
		{"another user's change", http.MethodPost, "/v1/inbox/state?user=eve", "", change, http.StatusOK},
		{"read with a key", http.MethodGet, "/v1/inbox?user=dee", "", "", http.StatusOK},
		{"read over the rate, token", http.MethodGet, "/v1/inbox", "Bearer " + tok, "", http.StatusTooManyRequests},
		{"another user's read", http.MethodGet, "/v1/inbox?user=eve", "", "", http.StatusOK},
	}
	for _, tt := range tests {
		w := e.do(t, req{method: tt.method, path: tt.path, auth: tt.auth, body: tt.body})
		if w.Code != tt.want {
			t.Fatalf("%s: status %d, want %d: %s", tt.name, w.Code, tt.want, w.Body)
		}
		if tt.want != http.StatusTooManyRequests {
			continue
		}
		if code := errorCode(t, w); code != protocol.CodeRateLimited {
			t.Errorf("%s: code %q", tt.name, code)
		}
		want := "2" // 1/0.5 s for a change
		if tt.method == http.MethodGet {
			want = "4"
		}
		if got := w.Header().Get("Retry-After"); got != want {
			t.Errorf("%s: Retry-After %q, want %q", tt.name, got, want)
		}
	}
	store.mu.Lock()
	defer store.mu.Unlock()
	if store.changes["user:dee"] != 2 || store.reads["user:dee"] != 1 {
		t.Fatalf("the store saw %d changes and %d reads of dee, want 2 and 1", store.changes["user:dee"], store.reads["user:dee"])
	}
	if got := testutil.CounterValue(t, e.m.Limited.WithLabelValues(metrics.LimitStateRate)); got != 2 {
		t.Errorf("limited{state_rate} = %v, want 2", got)
	}
}

// TestInboxCoalescedAnswer: a change answered by coalescing reads as a
// change that changed nothing: no id, changed 0, the counts.
func TestInboxCoalescedAnswer(t *testing.T) {
	w := httpAnswer(t, stream.StateResult{Counts: protocol.Counts{Unread: 3, Unseen: 1}, Epoch: testEpoch})
	var got map[string]any
	if err := json.Unmarshal(w, &got); err != nil {
		t.Fatal(err)
	}
	if _, ok := got["id"]; ok || got["changed"] != 0.0 || got["unread"] != 3.0 || got["unseen"] != 1.0 {
		t.Fatalf("answer %s", w)
	}
}

// staticInbox answers every change with res.
type staticInbox struct{ res stream.StateResult }

func (s staticInbox) ChangeState(context.Context, string, protocol.StateChange) (stream.StateResult, error) {
	return s.res, nil
}

func (staticInbox) ReadInbox(context.Context, string, stream.InboxQuery) (stream.Inbox, error) {
	return stream.Inbox{}, nil
}

func httpAnswer(t *testing.T, res stream.StateResult) []byte {
	t.Helper()
	e := newEnv(t, Config{})
	a, err := New(Config{}, e.store, mustKeys(t), e.m, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.mux = http.NewServeMux()
	a.WithInbox(staticInbox{res}, nil).Register(e.mux)
	w := e.do(t, req{method: http.MethodPost, path: "/v1/inbox/state?user=fay", body: `{"op":"read","up_to":"1-0"}`})
	if w.Code != http.StatusOK {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	return w.Body.Bytes()
}

// TestInboxRefusalHeld: at the default RefusalHold a request refused by
// its user's limit is answered only after the wait it is told, at most
// RefusalHold (1 s), so a client that retries at once slows to the limit.
func TestInboxRefusalHeld(t *testing.T) {
	tests := []struct {
		name     string
		cfg      limit.UserConfig
		min, max time.Duration
	}{
		{"held for the wait", limit.UserConfig{StateRate: 4, StateBurst: 1}, 200 * time.Millisecond, 5 * time.Second},
		{"held for RefusalHold at most", limit.UserConfig{StateRate: 0.01, StateBurst: 1}, 900 * time.Millisecond, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _, tok := newInboxEnvHold(t, tt.cfg, "hal", 0)
			change := req{method: http.MethodPost, path: "/v1/inbox/state", auth: "Bearer " + tok, body: `{"op":"read","ids":["1-0"]}`}
			if w := e.do(t, change); w.Code != http.StatusOK {
				t.Fatalf("first change: %d %s", w.Code, w.Body)
			}
			start := time.Now()
			w := e.do(t, change)
			held := time.Since(start)
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("second change: %d %s, want 429", w.Code, w.Body)
			}
			if held < tt.min || held > tt.max {
				t.Fatalf("the refusal came after %v, want %v to %v", held, tt.min, tt.max)
			}
		})
	}
}

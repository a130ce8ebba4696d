package api

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

func testEntry(t *testing.T, id, channel, event string) alarm.Entry {
	t.Helper()
	tail, err := alarm.EncodeTail(channel, event, []byte(`{"k":1}`))
	if err != nil {
		t.Fatal(err)
	}
	return alarm.NewEntry(protocol.MustParseID(id), channel, tail)
}

func TestListAlarms(t *testing.T) {
	e1 := testEntry(t, "1732530000000-3", "user:42", "a")
	e2 := testEntry(t, "1732530000001-0", "user:42", "b")
	tests := []struct {
		name     string
		query    string
		res      stream.Listing
		wantArgs []any
		want     string
	}{
		{"defaults, empty", "channel=user:42", stream.Listing{Epoch: "ep1", Complete: true},
			[]any{"user:42", protocol.Zero, 100},
			`{"epoch":"ep1","alarms":[],"complete":true}`},
		{"after and limit", "channel=user:42&after=1732530000000-2&limit=2",
			stream.Listing{Epoch: "ep1", Alarms: []alarm.Entry{e1, e2}, Complete: false},
			[]any{"user:42", protocol.MustParseID("1732530000000-2"), 2},
			`{"epoch":"ep1","alarms":[` + string(e1.Frame) + `,` + string(e2.Frame) + `],"complete":false}`},
		{"next", "channel=user:42&limit=1000&after=",
			stream.Listing{Epoch: "ep1", Complete: true, Next: protocol.MustParseID("1732530000009-0")},
			[]any{"user:42", protocol.Zero, 1000},
			`{"epoch":"ep1","alarms":[],"complete":true,"next":"1732530000009-0"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			e.store.listAlarms = func(string, protocol.ID, int) (stream.Listing, error) { return tt.res, nil }
			w := e.do(t, req{method: http.MethodGet, path: "/v1/alarms?" + tt.query, contentType: "-"})
			if w.Code != http.StatusOK {
				t.Fatalf("status = %d; body %s", w.Code, w.Body)
			}
			if got := w.Body.String(); got != tt.want+"\n" {
				t.Fatalf("body = %s, want %s", got, tt.want)
			}
			if !reflect.DeepEqual(e.store.histArgs, tt.wantArgs) {
				t.Fatalf("store args = %v, want %v", e.store.histArgs, tt.wantArgs)
			}
			if got := testutil.CounterValue(t, e.m.HTTPRequests.WithLabelValues(RouteListAlarms, "200")); got != 1 {
				t.Errorf("http requests metric = %v", got)
			}
		})
	}
}

func TestListAlarmsErrors(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		auth     string
		storeErr error
		status   int
		code     protocol.ErrorCode
	}{
		{"no auth", "channel=a", "-", nil, 401, protocol.CodeUnauthorized},
		{"wrong key", "channel=a", "Bearer x", nil, 401, protocol.CodeUnauthorized},
		{"missing channel", "", "", nil, 400, protocol.CodeMissingField},
		{"empty channel", "channel=", "", nil, 400, protocol.CodeInvalidChannel},
		{"invalid channel", "channel=a%20b", "", nil, 400, protocol.CodeInvalidChannel},
		{"bad after", "channel=a&after=12", "", nil, 400, protocol.CodeInvalidID},
		{"negative after", "channel=a&after=-1-0", "", nil, 400, protocol.CodeInvalidID},
		{"limit zero", "channel=a&limit=0", "", nil, 400, protocol.CodeInvalidLimit},
		{"limit too big", "channel=a&limit=1001", "", nil, 400, protocol.CodeInvalidLimit},
		{"limit text", "channel=a&limit=ten", "", nil, 400, protocol.CodeInvalidLimit},
		{"limit negative", "channel=a&limit=-5", "", nil, 400, protocol.CodeInvalidLimit},
		{"store unavailable", "channel=a", "", fmt.Errorf("x: %w", stream.ErrUnavailable), 503, protocol.CodeUnavailable},
		{"store internal", "channel=a", "", errors.New("boom"), 500, protocol.CodeInternal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			called := false
			e.store.listAlarms = func(string, protocol.ID, int) (stream.Listing, error) {
				called = true
				return stream.Listing{}, tt.storeErr
			}
			w := e.do(t, req{method: http.MethodGet, path: "/v1/alarms?" + tt.query, auth: tt.auth, contentType: "-"})
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d; body %s", w.Code, tt.status, w.Body)
			}
			if code := errorCode(t, w); code != tt.code {
				t.Fatalf("code = %q, want %q", code, tt.code)
			}
			if called != (tt.storeErr != nil) {
				t.Errorf("store called = %v", called)
			}
			if ra := w.Header().Get("Retry-After"); (ra == "1") != (tt.status == 503) {
				t.Errorf("Retry-After = %q for %d", ra, tt.status)
			}
		})
	}
}

func TestListAlarmsCorruptFrame(t *testing.T) {
	e := newEnv(t, Config{})
	e.store.listAlarms = func(string, protocol.ID, int) (stream.Listing, error) {
		return stream.Listing{Alarms: []alarm.Entry{{Frame: []byte("{broken")}}}, nil
	}
	w := e.do(t, req{method: http.MethodGet, path: "/v1/alarms?channel=a", contentType: "-"})
	if w.Code != http.StatusInternalServerError || errorCode(t, w) != protocol.CodeInternal {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	if got := testutil.CounterValue(t, e.m.HTTPRequests.WithLabelValues(RouteListAlarms, "500")); got != 1 {
		t.Errorf("http{500} = %v", got)
	}
}

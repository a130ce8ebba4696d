package api

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/strictjson"
)

// checkDecoded asserts the invariants of a decoder's outcome: an accepted
// input is one valid JSON object with valid fields; a rejected one gets a
// 400 or 413 with a known code.
func checkDecoded(t *testing.T, b []byte, channel, event string, data []byte, aerr *apiError) {
	t.Helper()
	if aerr != nil {
		if aerr.status != http.StatusBadRequest && aerr.status != http.StatusRequestEntityTooLarge {
			t.Fatalf("status %d for a decode error", aerr.status)
		}
		if aerr.code == "" || aerr.message == "" {
			t.Fatalf("error without code or message: %+v", aerr)
		}
		return
	}
	if !json.Valid(b) || !utf8.Valid(b) {
		t.Fatalf("accepted invalid JSON or UTF-8 %q", b)
	}
	if err := strictjson.CheckKeys(b, batchItemNames, false); err != nil {
		t.Fatalf("accepted %q: %v", b, err)
	}
	if !alarm.ValidChannel(channel) || !alarm.ValidEvent(event) || !json.Valid(data) {
		t.Fatalf("accepted invalid alarm channel=%q event=%q data=%q", channel, event, data)
	}
	if _, err := alarm.EncodeTail(channel, event, data); err != nil {
		t.Fatalf("accepted an alarm EncodeTail rejects: %v", err)
	}
}

var decodeSeeds = []string{
	`{"channel":"user:42","event":"order.shipped","data":{"n":1}}`,
	`{"channel":"a","event":"e"}`,
	`{"channel":"a","event":"e","data":null}`,
	`{"channel":"a","event":"e","idempotency_key":"k"}`,
	`{"channel":"a","event":"e"} {}`,
	`{"channel":"a b","event":"e"}`,
	`{"channel":1}`,
	`{"Channel":"a","EVENT":"e"}`,
	`{"channel":"a","event":"\u0000"}`,
	`{"channel":"a","event":"e","data":"\xff"}`,
	"{\"channel\":\"a\",\"event\":\"e\",\"data\":\"caf\xe9\"}",
	`{"channel":"c1","Channel":"user:alice","event":"e"}`,
	`{"channel":"a","event":"e","channel":"b"}`,
	`{"channel":"a","event":"a\u202eb"}`,
	`[]`, `null`, ``, `{`, `{}`, `{"x":1}`, "{\"channel\":\"a\",\"event\":\"e\"}\n",
}

func FuzzDecodePublish(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, aerr := decodePublish(b)
		checkDecoded(t, b, in.Channel, in.Event, in.Data, aerr)
		if aerr == nil && in.IdempotencyKey != "" {
			t.Fatal("the body set an idempotency key")
		}
	})
}

func FuzzDecodeBatchItem(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		in, aerr := decodeBatchItem(b)
		checkDecoded(t, b, in.Channel, in.Event, in.Data, aerr)
		if aerr == nil && in.IdempotencyKey != "" && !alarm.ValidIdemKey(in.IdempotencyKey) {
			t.Fatalf("accepted idempotency key %q", in.IdempotencyKey)
		}
	})
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"alarms":[{"channel":"a","event":"e"},null,1]}`))
	f.Add([]byte(`{"alarms":[]}`))
	f.Add([]byte(`{"alarms":{}}`))
	f.Add([]byte(`{"alarms":[{}],"x":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, aerr := decodeBatch(b, 5)
		if aerr != nil {
			checkDecoded(t, b, "", "", nil, aerr)
			return
		}
		if len(raws) < 1 || len(raws) > 5 || !json.Valid(b) {
			t.Fatalf("accepted %d items from %q", len(raws), b)
		}
		for _, raw := range raws {
			in, aerr := decodeBatchItem(raw)
			checkDecoded(t, raw, in.Channel, in.Event, in.Data, aerr)
		}
	})
}

func FuzzParseListingQuery(f *testing.F) {
	for _, s := range []string{"channel=user:42", "channel=a&after=1-2&limit=5", "channel=a&limit=0",
		"channel=a&after=x", "channel=a%20b", "after=1-0", "channel=a&channel=b", "channel=%ff", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, aerr := parseListingQuery(v)
		if aerr != nil {
			checkDecoded(t, nil, "", "", nil, aerr)
			return
		}
		if !alarm.ValidChannel(q.channel) || q.limit < 1 || q.limit > MaxListingLimit {
			t.Fatalf("accepted %q as %+v", raw, q)
		}
	})
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in   string
		n    int
		want string
	}{
		{"abc", 5, "abc"},
		{"abcdef", 3, "abc…"},
		{"aéé", 2, "a…"},
		{"aéé", 3, "aé…"},
	}
	for _, tt := range tests {
		if got := truncate(tt.in, tt.n); got != tt.want {
			t.Errorf("truncate(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
		}
	}
}

package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
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
	if err := checkNames(b, "channel", "event", "data", "idempotency_key"); err != nil {
		t.Fatalf("accepted %q: %v", b, err)
	}
	if !alarm.ValidChannel(channel) || !alarm.ValidEvent(event) || !json.Valid(data) {
		t.Fatalf("accepted invalid alarm channel=%q event=%q data=%q", channel, event, data)
	}
	if _, err := alarm.EncodeTail(channel, event, data); err != nil {
		t.Fatalf("accepted an alarm EncodeTail rejects: %v", err)
	}
}

// checkNames walks the object in b with json.Decoder's tokens and reports
// a member name that is not one of known exactly, or that is repeated.
func checkNames(b []byte, known ...string) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return fmt.Errorf("not an object: %v", err)
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		name := tok.(string)
		if seen[name] || !slices.Contains(known, name) {
			return fmt.Errorf("name %q", name)
		}
		seen[name] = true
		var value json.RawMessage
		if err := dec.Decode(&value); err != nil {
			return err
		}
	}
	return nil
}

// decodeBatchItem decodes b as one item of a batch, alone.
func decodeBatchItem(b []byte) (stream.PublishInput, *apiError) {
	if aerr := checkUTF8(b); aerr != nil {
		return stream.PublishInput{}, aerr
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return stream.PublishInput{}, badRequest(protocol.CodeInvalidJSON, "the body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	it, err := readItem(dec)
	switch {
	case err != nil:
		return stream.PublishInput{}, objectError(err)
	case it.aerr != nil:
		return stream.PublishInput{}, it.aerr
	}
	if _, err := dec.Token(); err != io.EOF {
		return stream.PublishInput{}, badRequest(protocol.CodeInvalidJSON, "unexpected data after the JSON object")
	}
	return it.in, nil
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
		items, aerr := decodeBatch(b, 5)
		if aerr != nil {
			checkDecoded(t, b, "", "", nil, aerr)
			return
		}
		if len(items) < 1 || len(items) > 5 || !json.Valid(b) {
			t.Fatalf("accepted %d items from %q", len(items), b)
		}
		for _, it := range items {
			checkDecoded(t, it.raw, it.in.Channel, it.in.Event, it.in.Data, it.aerr)
			in, aerr := decodeBatchItem(it.raw)
			if !reflect.DeepEqual(in, it.in) || (aerr == nil) != (it.aerr == nil) || aerr != nil && aerr.code != it.aerr.code {
				t.Fatalf("item %q: in the batch %+v %v, alone %+v %v", it.raw, it.in, it.aerr, in, aerr)
			}
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

// benchData is data as loadgen publishes it (its default 256 bytes).
var benchData = `{"t":1760000000000000000,"s":3,"p":"` + strings.Repeat("x", 256-40) + `"}`

// benchBodies are publish bodies: loadgen's, and one whose data nests and
// escapes.
var benchBodies = []struct{ name, body string }{
	{"loadgen", `{"channel":"bench:17","event":"bench","data":` + benchData + `}`},
	{"nested", `{"channel":"user:42","event":"order.shipped","data":{"order":12345,"items":[{"sku":"A-1","qty":2},{"sku":"B-22","qty":1}],"note":"ships \"today\" \u2014 by noon","total":19.99,"tags":["new","fragile"],"express":true,"gift":null,"eta":1.7e9}}`},
}

// benchBatch is a batch body of n loadgen alarms.
func benchBatch(n int) []byte {
	items := make([]string, n)
	for i := range items {
		items[i] = fmt.Sprintf(`{"channel":"bench:%d","event":"bench","data":%s}`, i, benchData)
	}
	return []byte(`{"alarms":[` + strings.Join(items, ",") + `]}`)
}

// BenchmarkDecodePublish measures decoding and validating one publish
// body: as decodePublish does (decodeFast), and through encoding/json
// alone (decodeObject), the path of anything but the common case.
func BenchmarkDecodePublish(b *testing.B) {
	slow := func(body []byte) (stream.PublishInput, *apiError) {
		if aerr := checkUTF8(body); aerr != nil {
			return stream.PublishInput{}, aerr
		}
		var p publishBody
		if aerr := decodeObject(body, p.fields()); aerr != nil {
			return stream.PublishInput{}, aerr
		}
		return p.input()
	}
	for _, bb := range benchBodies {
		for _, path := range []struct {
			name   string
			decode func([]byte) (stream.PublishInput, *apiError)
		}{{"fast", decodePublish}, {"encoding-json", slow}} {
			b.Run(bb.name+"/"+path.name, func(b *testing.B) {
				body := []byte(bb.body)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					if _, aerr := path.decode(body); aerr != nil {
						b.Fatal(aerr.message)
					}
				}
			})
		}
	}
}

// BenchmarkDecodeBatch measures decoding a batch of 100 alarms, items
// included: as decodeBatch does (decodeBatchFast), and through
// encoding/json alone (decodeBatchItems).
func BenchmarkDecodeBatch(b *testing.B) {
	for _, path := range []struct {
		name   string
		decode func([]byte) ([]batchItem, *apiError)
	}{
		{"fast", func(body []byte) ([]batchItem, *apiError) { return decodeBatch(body, 128) }},
		{"encoding-json", decodeBatchItems},
	} {
		b.Run(path.name, func(b *testing.B) {
			body := benchBatch(100)
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for b.Loop() {
				items, aerr := path.decode(body)
				if aerr != nil || len(items) != 100 || items[99].aerr != nil {
					b.Fatal("batch refused")
				}
			}
		})
	}
}

package api

import (
	"reflect"
	"testing"
	"unicode/utf8"
)

// decodeFastSeeds are bodies of every kind decodeFast meets.
var decodeFastSeeds = []string{
	`{"channel":"user:1","event":"e","data":{"a":[1,"}",{"b":null}]}}`,
	` {"event":"e" , "channel":"c1", "data" : null } `,
	`{"channel":"c","event":"e","idempotency_key":"k-1"}`,
	`{"channel":"c","channel":"d","event":"e"}`,
	`{"Channel":"c","event":"e"}`,
	`{"\u0063hannel":"c","event":"e"}`,
	`{"channel":"c\u0031","event":"e"}`,
	`{"channel":1,"event":"e"}`,
	`{"channel":null,"event":"e"}`,
	`{"channel":"c","event":"e","data":01}`,
	`{"alarms":[{"channel":"c","event":"e"}, {"channel":"d","event":"f","data":[1]} ]}`,
	`{"alarms":[{"channel":"c","event":"e"}, {"x":1} ,[],"s",null]}`,
	`{"alarms":[]}`,
	`{"alarms":null}`,
	`{"alarms":[1],"alarms":[2]}`,
	`{}`,
	`[]`,
	`"x"`,
}

// FuzzDecodeFast: whatever decodeFast or decodeBatchFast accepts,
// encoding/json's path (decodeObject, decodeBatchItems) accepts too, with
// the same result.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeFastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !utf8.Valid(b) {
			return
		}
		for _, idem := range []bool{false, true} {
			var fast, slow batchItemBody
			idemp := &fast.IdempotencyKey
			if !idem {
				idemp = nil
			}
			if !decodeFast(b, &fast.publishBody, idemp) {
				continue
			}
			fields := slow.publishBody.fields()
			if idem {
				fields = slow.fields()
			}
			if aerr := decodeObject(b, fields); aerr != nil {
				t.Fatalf("%q: accepted by the shortcut, refused by encoding/json: %v", b, aerr.message)
			}
			if !reflect.DeepEqual(normal(&fast), normal(&slow)) {
				t.Fatalf("%q: decoded as %v, encoding/json says %v", b, normal(&fast), normal(&slow))
			}
		}
		fast, ok := decodeBatchFast(b)
		if !ok {
			return
		}
		slow, aerr := decodeBatchItems(b)
		if aerr != nil || len(fast) != len(slow) {
			t.Fatalf("%q: %d items by the shortcut, encoding/json %d %v", b, len(fast), len(slow), aerr)
		}
		for i := range fast {
			f, s := fast[i], slow[i]
			if !reflect.DeepEqual(f.in, s.in) || string(f.raw) != string(s.raw) || (f.aerr == nil) != (s.aerr == nil) ||
				f.aerr != nil && *f.aerr != *s.aerr {
				t.Fatalf("%q: item %d is %+v, encoding/json %+v", b, i, f, s)
			}
		}
	})
}

// normal turns a decoded batch item into comparable values.
func normal(p *batchItemBody) []any {
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	return []any{str(p.Channel), str(p.Event), string(p.Data), str(p.IdempotencyKey)}
}

func TestDecodeFastTakesTheSeeds(t *testing.T) {
	accepted := 0
	for _, s := range decodeFastSeeds {
		var p batchItemBody
		if decodeFast([]byte(s), &p.publishBody, &p.IdempotencyKey) {
			accepted++
		}
		if _, ok := decodeBatchFast([]byte(s)); ok {
			accepted++
		}
	}
	if accepted < 6 {
		t.Fatalf("the shortcut took only %d of the seeds", accepted)
	}
}

package api

import (
	"reflect"
	"testing"
)

// decodeFastSeeds are bodies of every kind decodeFast meets.
var decodeFastSeeds = []string{
	`{"channel":"user:1","event":"e","data":{"a":[1,"}",{"b":null}]}}`,
	` {"event":"e" , "channel":"c\u0031", "data" : null } `,
	`{"channel":"c","event":"e","idempotency_key":"k-1"}`,
	`{"channel":"c","channel":"d","event":"e"}`,
	`{"Channel":"c","event":"e"}`,
	`{"\u0063hannel":"c","event":"e"}`,
	`{"channel":1,"event":"e"}`,
	`{"channel":null,"event":"e"}`,
	`{"alarms":[{"channel":"c","event":"e"}, {"x":1} ,[],"s",null]}`,
	`{"alarms":[]}`,
	`{"alarms":null}`,
	`{"alarms":[1],"alarms":[2]}`,
	`{}`,
	`[]`,
	`"x"`,
}

// FuzzDecodeFast: whatever decodeFast accepts, the encoding/json path
// (decodeSlow) accepts too, with the same result.
func FuzzDecodeFast(f *testing.F) {
	for _, s := range decodeFastSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, mk := range []func() any{
			func() any { return new(publishBody) },
			func() any { return new(batchItemBody) },
			func() any { return new(batchBody) },
		} {
			fast, slow := mk(), mk()
			if aerr := decodeObject(b, fast); aerr != nil {
				continue
			}
			if aerr := decodeSlow(b, slow); aerr != nil {
				t.Fatalf("%T: %q accepted by the fast path, refused by encoding/json: %v", fast, b, aerr)
			}
			if !reflect.DeepEqual(normal(fast), normal(slow)) {
				t.Fatalf("%T: %q decoded as %+v, encoding/json says %+v", fast, b, normal(fast), normal(slow))
			}
		}
	})
}

// normal turns a decoded body into comparable values.
func normal(v any) any {
	str := func(p *string) any {
		if p == nil {
			return nil
		}
		return *p
	}
	switch v := v.(type) {
	case *publishBody:
		return []any{str(v.Channel), str(v.Event), string(v.Data)}
	case *batchItemBody:
		return []any{normal(&v.publishBody), str(v.IdempotencyKey)}
	case *batchBody:
		var out []string
		for _, a := range v.Alarms {
			out = append(out, string(a))
		}
		return []any{v.Alarms == nil, out}
	}
	return v
}

func TestDecodeFastMatchesEncodingJSON(t *testing.T) {
	accepted := 0
	for _, s := range decodeFastSeeds {
		for _, v := range []any{new(publishBody), new(batchItemBody), new(batchBody)} {
			if json := []byte(s); decodeFast(json, v) {
				accepted++
			}
		}
	}
	if accepted < 5 {
		t.Fatalf("the fast path took only %d of the seeds", accepted)
	}
}

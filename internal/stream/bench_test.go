package stream

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
)

// BenchmarkPublish measures one Publish round trip against the real Redis.
func BenchmarkPublish(b *testing.B) {
	s, _ := newTestStore(b, backend{"redis", true}, Config{MaxLen: 10000})
	ctx := context.Background()
	in := PublishInput{Channel: "user:42", Event: "order.shipped", Data: json.RawMessage(`{"order":7,"status":"shipped"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Publish(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPublishBatch100 measures one PublishBatch of 100 alarms (one
// pipeline) against the real Redis; ns/op is per batch.
func BenchmarkPublishBatch100(b *testing.B) {
	s, _ := newTestStore(b, backend{"redis", true}, Config{MaxLen: 10000})
	ctx := context.Background()
	ins := make([]PublishInput, 100)
	for i := range ins {
		ins[i] = PublishInput{Channel: "user:" + strconv.Itoa(i), Event: "e", Data: json.RawMessage(`{"n":1}`)}
	}
	b.ReportAllocs()
	for b.Loop() {
		_, errs := s.PublishBatch(ctx, ins)
		for _, err := range errs {
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(ins)), "ns/alarm")
}

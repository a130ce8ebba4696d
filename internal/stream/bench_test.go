package stream

import (
	"context"
	"encoding/json"
	"errors"
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

// BenchmarkRouterPublishBatch100 compares one PublishBatch of 100 alarms
// through a one-partition Router with the same call on its Store, in the
// same run against the real Redis; ns/op is per batch. The inboxes are
// first filled past their cap, so that every sub-benchmark meets the same
// steady state.
func BenchmarkRouterPublishBatch100(b *testing.B) {
	const depth = 100
	parts := newTestParts(b, Config{MaxLen: 10000, ChannelBacklog: depth}, 1, nil)
	r, err := NewRouter(parts, nil)
	if err != nil {
		b.Fatal(err)
	}
	ins := make([]PublishInput, 100)
	for i := range ins {
		ins[i] = PublishInput{Channel: "user:" + strconv.Itoa(i), Event: "e", Data: json.RawMessage(`{"n":1}`)}
	}
	for range 2 * depth {
		if _, errs := parts[0].PublishBatch(context.Background(), ins); errors.Join(errs...) != nil {
			b.Fatal(errors.Join(errs...))
		}
	}
	for _, c := range []struct {
		name string
		x    routed
	}{{"store", parts[0]}, {"router", r}, {"store-again", parts[0]}} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				_, errs := c.x.PublishBatch(ctx, ins)
				for _, err := range errs {
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

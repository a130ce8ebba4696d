package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestPipelinerConcurrentPublishes(t *testing.T) {
	s, rdb := newTestStore(t, backends[0], Config{})
	p := s.NewPipeliner(16)
	ctx, cancel := context.WithCancel(context.Background())
	var run sync.WaitGroup
	run.Go(func() { p.Run(ctx) })

	const n = 200
	ids := make([]protocol.ID, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Go(func() {
			in := PublishInput{Channel: "user:1", Event: "e", Data: []byte(fmt.Sprint(i))}
			if i%10 == 0 {
				in.IdempotencyKey = fmt.Sprintf("k%d", i/20) // pairs share a key and an alarm
				in.Data = []byte(fmt.Sprint(-i / 20))
			}
			res, err := p.Publish(context.Background(), in)
			ids[i], errs[i] = res.ID, err
		})
	}
	wg.Wait()
	seen := map[protocol.ID]int{}
	for i := range ids {
		if errs[i] != nil {
			t.Fatalf("publish %d: %v", i, errs[i])
		}
		seen[ids[i]]++
	}
	// 200 calls, 20 with keys in 10 pairs: 190 distinct alarms.
	if l := rdb.XLen(context.Background(), s.StreamKey()).Val(); l != 190 || len(seen) != 190 {
		t.Fatalf("stream has %d alarms, %d distinct ids; want 190", l, len(seen))
	}
	_, err := p.Publish(context.Background(), PublishInput{Channel: "bad channel", Event: "e"})
	if !errors.Is(err, alarm.ErrInvalidChannel) {
		t.Fatalf("validation error lost: %v", err)
	}
	cancel()
	run.Wait()
	// After Run: calls fall back to direct publishes.
	if _, err := p.Publish(context.Background(), PublishInput{Channel: "user:1", Event: "e"}); err != nil {
		t.Fatal(err)
	}
}

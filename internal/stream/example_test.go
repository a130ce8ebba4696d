package stream_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

func ExampleStore_Publish() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	s, err := stream.New(stream.Config{Prefix: "demo"}, rdb, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	in := stream.PublishInput{Channel: "user:42", Event: "order.shipped",
		Data: json.RawMessage(`{"order": 7}`), IdempotencyKey: "order-7-shipped"}
	first, _ := s.Publish(ctx, in)
	again, _ := s.Publish(ctx, in) // a retry: same id, nothing new written
	fmt.Println(again.ID == first.ID, again.Replayed)

	entries, _ := s.Range(ctx, protocol.Zero, 10)
	var m protocol.Alarm
	_ = json.Unmarshal(entries[0].Frame, &m)
	fmt.Println(len(entries), m.Channel, m.Event, string(m.Data))
	fmt.Println(s.StreamKey(), s.LiveChannel())
	// Output:
	// true true
	// 1 user:42 order.shipped {"order":7}
	// {demo}:stream {demo}:live
}

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

func ExampleRouter() {
	mr, err := miniredis.Run()
	if err != nil {
		panic(err)
	}
	defer mr.Close()
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	// A deployment of two partitions: partition k's Store at index k.
	parts := make([]*stream.Store, 2)
	for k := range parts {
		if parts[k], err = stream.New(stream.Config{Prefix: "demo", Partitions: 2, Partition: k}, rdb, nil); err != nil {
			panic(err)
		}
	}
	r, err := stream.NewRouter(parts, nil)
	if err != nil {
		panic(err)
	}
	ctx := context.Background()

	// A shared channel's alarm goes to every partition, an inbox's to its
	// own.
	_, _ = r.Publish(ctx, stream.PublishInput{Channel: "broadcast", Event: "maintenance"})
	res, _ := r.Publish(ctx, stream.PublishInput{Channel: "user:42", Event: "order.shipped",
		Data: json.RawMessage(`{"order": 7}`)})
	for k := range r.Len() {
		entries, _ := r.Part(k).Range(ctx, protocol.Zero, 10)
		for _, e := range entries {
			fmt.Println("partition", k, e.Channel)
		}
	}
	home := r.PartOf("user:42")
	inbox, _ := r.ReadInbox(ctx, "user:42", stream.InboxQuery{})
	fmt.Println(home.Partition(), home.StreamKey(), inbox.Items[0].Alarm.ID == res.ID)
	// Output:
	// partition 0 broadcast
	// partition 1 broadcast
	// partition 1 user:42
	// 1 {demo/2/1/3}:stream true
}

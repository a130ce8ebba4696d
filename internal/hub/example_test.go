package hub_test

import (
	"fmt"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/protocol"
)

func ExampleHub_Register() {
	h, _ := hub.New(hub.Config{NodeID: "gw-1", Window: 100}, nil, nil)
	tail, _ := alarm.EncodeTail("user:42", "ping", nil)
	h.Reset("epoch-1", []alarm.Entry{
		alarm.NewEntry(protocol.MustParseID("5-0"), "user:42", tail),
		alarm.NewEntry(protocol.MustParseID("6-0"), "user:7", tail),
		alarm.NewEntry(protocol.MustParseID("7-0"), "user:42", tail),
	}, protocol.Zero)

	// A connection that saw 5-0 resumes: the welcome and 7-0 are queued
	// under the hub's lock, so live alarms can only follow them.
	c := h.NewConn([]string{"user:42", "broadcast"}, func() { /* start a writer */ }, func(protocol.CloseCode, string) {})
	w := h.Register(c, hub.Resume{LastID: protocol.MustParseID("5-0"), HasLastID: true})
	fmt.Println(w.Status, w.Position, w.Replayed)
	h.Apply(alarm.NewEntry(protocol.MustParseID("8-0"), "user:42", tail))
	msgs, _, _ := c.Queue.Take()
	fmt.Println(len(msgs), "messages queued")
	// Output:
	// resumed 5-0 1
	// 3 messages queued
}

package hub

import (
	"fmt"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

// BenchmarkFanout measures Apply of one alarm to n connections on its
// channel (the cost per delivery is ns/op divided by n). Queues are
// drained outside the timer.
func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1, 100, 5000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			h := newHub(b, 1000, 1<<20)
			h.Reset("E", nil, protocol.Zero)
			conns := make([]*Conn, n)
			for i := range conns {
				conns[i] = h.NewConn([]string{"room", fmt.Sprintf("user:%d", i)}, func() {}, func(protocol.CloseCode, string) {})
				h.Register(conns[i], Resume{})
			}
			e := entry(b, 1, 0, "room")
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.ID = protocol.ID{MS: uint64(i + 1)}
				h.Apply(e)
				if i%1000 == 999 {
					b.StopTimer()
					for _, c := range conns {
						c.Queue.Take()
						c.Queue.Take()
					}
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/delivery")
		})
	}
}

// BenchmarkResume measures Register with a replay of a personal channel
// from a window full of other users' alarms.
func BenchmarkResume(b *testing.B) {
	h := newHub(b, 10000, 1<<20)
	h.Reset("E", nil, protocol.Zero)
	for i := 1; i <= 10000; i++ {
		h.Apply(entry(b, uint64(i), 0, fmt.Sprintf("user:%d", i%2000)))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c := h.NewConn([]string{"user:7", "broadcast"}, func() {}, func(protocol.CloseCode, string) {})
		h.Register(c, Resume{LastID: protocol.ID{MS: 5000}, HasLastID: true})
		h.Unregister(c)
	}
}

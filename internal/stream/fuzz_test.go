package stream

import (
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/alarm"
)

// FuzzToEntry: whatever a stream entry holds, an accepted one yields a
// frame that ParseFrame reads back with the same id and channel.
func FuzzToEntry(f *testing.F) {
	tail, _ := alarm.EncodeTail("user:1", "e", []byte(`{"a":1}`))
	f.Add("1-1", "user:1", string(tail))
	f.Add("1-1", "user:1", `,"channel":"user:1"`)
	f.Add("1-1", "user:1", `,"channel":"user:1"}`+"\n")
	f.Add("x", "c", `,"channel":"c"}`)
	f.Add("2-0", "c d", `,"channel":"c d"}`)
	f.Fuzz(func(t *testing.T, id, c, tl string) {
		e, ok := toEntry(redis.XMessage{ID: id, Values: map[string]any{"c": c, "t": tl}})
		if !ok {
			return
		}
		got, err := alarm.ParseFrame(e.Frame)
		if err != nil || got.ID != e.ID || got.Channel != c || e.Channel != c {
			t.Fatalf("accepted %q %q %q: ParseFrame = %+v %v", id, c, tl, got, err)
		}
	})
}

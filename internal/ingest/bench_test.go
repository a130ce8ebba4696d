package ingest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// BenchmarkIngest measures the consumer's throughput on the real Redis:
// each iteration appends 5000 entries with 256 bytes of data (as loadgen
// publish; not timed: that is the applications' work) and consumes them
// with BatchSize 500 (read, one publish pipeline, ack per batch). Reports
// alarms/s.
func BenchmarkIngest(b *testing.B) {
	for _, par := range []int{1, 4, 8} {
		b.Run("parallel="+strconv.Itoa(par), func(b *testing.B) { benchIngest(b, par) })
	}
}

func benchIngest(b *testing.B, parallel int) {
	const n = 5000
	e := newEnv(b, stream.Config{MaxLen: 10000})
	c, m := e.consumer("bench", Config{BatchSize: 500, Parallel: parallel})
	ctx := context.Background()
	if err := c.ensureGroup(ctx); err != nil {
		b.Fatal(err)
	}
	c.groupOK = true
	done := 0.0
	var busy time.Duration
	for b.Loop() {
		b.StopTimer()
		e.addPadded(n, 50, 256)
		b.StartTimer()
		start := time.Now()
		done += n
		for testutil.ToFloat64(m.Ingest.Alarms.WithLabelValues("created")) < done {
			if !c.lease.hold(ctx) {
				b.Fatal("no lease")
			}
			if err := c.step(ctx); err != nil {
				b.Fatal(err)
			}
		}
		busy += time.Since(start)
	}
	b.ReportMetric(done/busy.Seconds(), "alarms/s")
}

// addPadded appends n alarms over chans channels with size bytes of data.
func (e *env) addPadded(n, chans, size int) {
	e.t.Helper()
	pad := strings.Repeat("x", size-20)
	pipe := e.rdb.Pipeline()
	for i := range n {
		pipe.XAdd(e.ctx(), &redis.XAddArgs{Stream: e.keys.Stream, Values: []any{
			FieldChannel, "bench:" + strconv.Itoa(i%chans), FieldEvent, "e", FieldData, `{"n":` + strconv.Itoa(i) + `,"p":"` + pad + `"}`}})
	}
	if _, err := pipe.Exec(e.ctx()); err != nil {
		e.t.Fatal(err)
	}
}

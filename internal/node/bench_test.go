package node

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

// BenchmarkPublishSingle posts one 256-byte alarm per request, over 16
// kept-alive connections at once (loadgen publish -mode single -workers
// 16, in one process): ns/op, cpu-ns/op and allocs/op cover client and
// node. Compare builds with benchstat, never against a threshold.
func BenchmarkPublishSingle(b *testing.B) {
	n := startNode(b, testutil.Prefix(b), "bench", func(c *Config) { c.API.PublishRate = -1 }) // measure the node, not its limit
	const workers = 16
	tr := &http.Transport{MaxIdleConns: workers, MaxIdleConnsPerHost: workers, MaxConnsPerHost: workers, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	body := []byte(fmt.Sprintf(`{"channel":"bench:pub","event":"e","data":{"x":%q}}`, strings.Repeat("x", 240)))
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0))) // RunParallel: GOMAXPROCS × this goroutines
	b.ReportAllocs()
	cpu0 := processCPU(b)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, n.url+"/v1/alarms", bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+testKey)
			req.Header.Set("Content-Type", "application/json")
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU returns the CPU time (user and system) this process has used.
func processCPU(b *testing.B) time.Duration {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

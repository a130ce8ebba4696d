package limit

import (
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/alarmgate/alarmgate/internal/metrics"
)

func newTestConns(t *testing.T, cfg ConnConfig, clk *fakeClock) (*Conns, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(nil)
	c, err := NewConns(cfg, m, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	return c, m
}

// TestConnsCapSharedByTransports: the cap counts every transport's
// connections; beyond it 503 with a wait of 1 s, counted by reason and
// transport; a released slot is reusable by any transport.
func TestConnsCapSharedByTransports(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, m := newTestConns(t, ConnConfig{MaxConnections: 2, ConnectRate: -1}, clk)
	if _, ok := c.Admit("10.0.0.1:1000", "ws"); !ok {
		t.Fatal("first ws refused")
	}
	if _, ok := c.Admit("10.0.0.2:1000", "sse"); !ok {
		t.Fatal("first sse refused")
	}
	for _, tr := range []string{"sse", "ws", "sse"} {
		ref, ok := c.Admit("10.0.0.3:1000", tr)
		if ok || ref.Status != http.StatusServiceUnavailable || ref.Wait != time.Second || ref.Reason != metrics.LimitConnections {
			t.Fatalf("%s beyond the cap: %+v %v", tr, ref, ok)
		}
	}
	if got := testutil.ToFloat64(m.ConnsRefused.WithLabelValues(metrics.LimitConnections, "sse")); got != 2 {
		t.Errorf("refused{connections,sse} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.ConnsRefused.WithLabelValues(metrics.LimitConnections, "ws")); got != 1 {
		t.Errorf("refused{connections,ws} = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.Limited.WithLabelValues(metrics.LimitConnections)); got != 3 {
		t.Errorf("limited{connections} = %v, want 3", got)
	}
	for _, tr := range []string{"ws", "sse"} {
		if got := testutil.ToFloat64(m.ConnSlots.WithLabelValues(tr)); got != 1 {
			t.Errorf("slots{%s} = %v, want 1", tr, got)
		}
	}
	c.Release("ws")
	if _, ok := c.Admit("10.0.0.3:1000", "sse"); !ok || c.Open() != 2 {
		t.Fatalf("the freed slot was not reused: open %d", c.Open())
	}
	if got := testutil.ToFloat64(m.ConnSlots.WithLabelValues("sse")); got != 2 {
		t.Errorf("slots{sse} = %v, want 2", got)
	}
}

// TestConnsRatePerSource: one source's attempts over every transport share
// a bucket; beyond it 429 with the bucket's wait; another source and the
// open connections are unaffected.
func TestConnsRatePerSource(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, m := newTestConns(t, ConnConfig{ConnectRate: 0.1, ConnectBurst: 2}, clk)
	for _, tr := range []string{"ws", "sse"} {
		if _, ok := c.Admit("10.0.0.1:"+tr, tr); !ok {
			t.Fatalf("%s within the burst refused", tr)
		}
	}
	ref, ok := c.Admit("10.0.0.1:9", "sse")
	if ok || ref.Status != http.StatusTooManyRequests || ref.Wait != 10*time.Second || ref.Reason != metrics.LimitConnectRate {
		t.Fatalf("beyond the burst: %+v %v", ref, ok)
	}
	if _, ok := c.Admit("[::1]:9", "ws"); !ok {
		t.Fatal("another source refused")
	}
	if got := testutil.ToFloat64(m.ConnsRefused.WithLabelValues(metrics.LimitConnectRate, "sse")); got != 1 {
		t.Errorf("refused{connect_rate,sse} = %v, want 1", got)
	}
	if c.Open() != 3 {
		t.Fatalf("open %d, want 3 (a refused attempt holds no slot)", c.Open())
	}
}

// TestConnsNoCap: a negative cap and rate admit everything.
func TestConnsNoCap(t *testing.T) {
	c, _ := newTestConns(t, ConnConfig{MaxConnections: -1, ConnectRate: -1}, &fakeClock{t: time.Unix(1000, 0)})
	for i := range 1000 {
		if _, ok := c.Admit("10.0.0.1:1", "ws"); !ok {
			t.Fatalf("attempt %d refused", i)
		}
	}
	if _, err := NewConns(ConnConfig{ConnectBurst: -1}, nil, nil); err == nil {
		t.Fatal("NewConns accepted a negative burst")
	}
}

package pubsub

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/metrics"
)

// logLines is a slog.Handler that keeps the messages of the lines at
// info level and above.
type logLines struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logLines) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelInfo }
func (l *logLines) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logLines) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logLines) WithGroup(string) slog.Handler      { return l }

// count returns how many lines carried msg.
func (l *logLines) count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if m == msg {
			n++
		}
	}
	return n
}

func (l *logLines) total() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.msgs)
}

// TestUnitOutageLogsStateChanges: with every Redis call failing, the feed
// logs one line when Redis is lost, a reminder per OutageReminder, and one
// line when it is back, not one line per failed call; a subscription that
// fails alone is announced once it has failed for ProbeTimeout.
func TestUnitOutageLogsStateChanges(t *testing.T) {
	store := newFakeStore("e1")
	for _, c := range []string{"receive", "probe", "tip", "load"} {
		store.setFail(c, true)
	}
	clock := newFakeClock()
	lines := &logLines{}
	h, err := hub.New(hub.Config{NodeID: "n", Window: 100}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := New(Config{NodeID: "n", TipInterval: 2 * time.Millisecond, Now: clock.Now},
		store, h, metrics.New(nil), slog.New(lines))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	// Many failed calls, each a line before: one line now.
	eventually(t, "100 failed probes", func() bool { return store.count("probe") >= 100 })
	if n := lines.count("pubsub: lost Redis"); n != 1 || lines.total() != 1 {
		t.Fatalf("after %d failed probes and %d failed subscriptions: %d lines (%v), want 1 lost Redis",
			store.count("probe"), store.count("subscribe"), lines.total(), lines.msgs)
	}
	// A reminder once OutageReminder has passed, then quiet again.
	clock.Advance(DefaultOutageReminder)
	eventually(t, "a reminder", func() bool { return lines.count("pubsub: Redis still unreachable") == 1 })
	probes := store.count("probe")
	eventually(t, "50 more failed probes", func() bool { return store.count("probe") >= probes+50 })
	if lines.total() != 2 {
		t.Fatalf("lines %v, want lost and one reminder", lines.msgs)
	}

	// Redis answers again, the subscription too: one line.
	for _, c := range []string{"receive", "probe", "tip", "load"} {
		store.setFail(c, false)
	}
	sub := store.sub(t, 0)
	sub.subscribed(t)
	sub.probe(t) // at the advanced clock
	eventually(t, "ready", f.Ready)
	eventually(t, "Redis back", func() bool { return lines.count("pubsub: Redis back") == 1 })
	if n := lines.count("pubsub: subscription back"); n != 0 {
		t.Fatalf("%d subscription back lines for a subscription never announced failing", n)
	}

	// The subscription alone fails: quiet for ProbeTimeout, then one line,
	// and one when it is back.
	store.setFail("receive", true)
	sub.fail(t)
	probes = store.count("probe")
	eventually(t, "20 more probes", func() bool { return store.count("probe") >= probes+20 })
	if n := lines.count("pubsub: subscription failing"); n != 0 {
		t.Fatalf("subscription failing announced within the probe timeout (%v)", lines.msgs)
	}
	clock.Advance(DefaultProbeTimeout)
	eventually(t, "subscription failing", func() bool { return lines.count("pubsub: subscription failing") == 1 })
	store.setFail("receive", false)
	sub.subscribed(t)
	eventually(t, "subscription back", func() bool { return lines.count("pubsub: subscription back") == 1 })
	if n := lines.count("pubsub: lost Redis"); n != 1 {
		t.Fatalf("%d lost Redis lines, want still 1: %v", n, lines.msgs)
	}
}

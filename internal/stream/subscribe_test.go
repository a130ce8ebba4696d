package stream

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/alarm"
)

// wantEvent receives one event from sub and compares it with want.
func wantEvent(ctx context.Context, t *testing.T, sub Subscription, want Event) Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ev, err := sub.Receive(ctx)
	if err != nil {
		t.Fatalf("Receive: %v, want %v", err, want.Kind)
	}
	if ev.Kind != want.Kind || (want.Payload != "" && ev.Payload != want.Payload) {
		t.Fatalf("Receive = %v %q, want %v %q", ev.Kind, ev.Payload, want.Kind, want.Payload)
	}
	return ev
}

func TestSubscribe(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			s, rdb := newTestStore(t, b, Config{})
			ctx := testCtx(t)
			sub := s.Subscribe(ctx, "node-1")
			defer sub.Close()
			wantEvent(ctx, t, sub, Event{Kind: EventSubscribed})

			res, err := s.Publish(ctx, PublishInput{Channel: "user:1", Event: "e"})
			if err != nil {
				t.Fatal(err)
			}
			ev := wantEvent(ctx, t, sub, Event{Kind: EventMessage})
			epoch, e, err := alarm.ParsePayload([]byte(ev.Payload))
			if err != nil || epoch != res.Epoch || e.ID != res.ID {
				t.Fatalf("message %q: epoch %q id %v %v, want %q %v", ev.Payload, epoch, e.ID, err, res.Epoch, res.ID)
			}

			// Another node's probe is not delivered; this node's is.
			if err := s.Probe(ctx, "node-2", "other"); err != nil {
				t.Fatal(err)
			}
			if err := s.Probe(ctx, "node-1", "probe-1"); err != nil {
				t.Fatal(err)
			}
			wantEvent(ctx, t, sub, Event{Kind: EventProbe, Payload: "probe-1"})

			// The probe channel is the documented one.
			if n := rdb.PubSubNumSub(ctx, "{"+s.cfg.Prefix+"}:live:probe:node-1").Val(); n["{"+s.cfg.Prefix+"}:live:probe:node-1"] != 1 {
				t.Fatalf("probe channel subscribers %v", n)
			}

			if err := sub.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := sub.Receive(ctx); err == nil {
				t.Fatal("Receive after Close succeeded")
			}
		})
	}
}

func TestSubscribeReceiveEndsWithCtx(t *testing.T) {
	s, _ := newTestStore(t, backend{"redis", true}, Config{})
	sub := s.Subscribe(testCtx(t), "n")
	defer sub.Close()
	wantEvent(testCtx(t), t, sub, Event{Kind: EventSubscribed})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := sub.Receive(ctx); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Receive with an ending ctx: %v", err)
	}
}

func TestEventKindString(t *testing.T) {
	for k, want := range map[EventKind]string{
		EventSubscribed: "subscribed", EventMessage: "message", EventProbe: "probe", 0: "EventKind(0)",
	} {
		if got := k.String(); got != want {
			t.Errorf("%d.String() = %q, want %q", int(k), got, want)
		}
	}
}

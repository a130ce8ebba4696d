package ws

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/protocol"
)

// stuckBackfill is a deep read that waits for its turn until its caller
// gives up, as reads do in a reconnect storm.
type stuckBackfill struct {
	started chan struct{}
	gaveUp  chan struct{}
}

func (b *stuckBackfill) ReadAfter(ctx context.Context, _ []string, _ protocol.ID) (string, []alarm.Entry, bool, error) {
	close(b.started)
	<-ctx.Done()
	close(b.gaveUp)
	return "", nil, false, ctx.Err()
}

// deepServer serves a Server whose window holds 100-0..109-0 of epoch "e"
// and whose deep reads go to backfill.
func deepServer(t *testing.T, backfill hub.Backfill) (wsURL, tok string) {
	t.Helper()
	h, err := hub.New(hub.Config{NodeID: "t", Window: 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var entries []alarm.Entry
	for i := 100; i < 110; i++ {
		id := protocol.ID{MS: uint64(i)}
		entries = append(entries, alarm.Entry{ID: id, Channel: "user:deep",
			Frame: []byte(fmt.Sprintf(`{"type":"alarm","id":"%s","channel":"user:deep","event":"e","ts":1,"data":null}`, id))})
	}
	h.Reset("e", entries, protocol.ID{MS: 99})
	return serveHub(t, h, backfill, nil, nil, "deep")
}

// deepHello resumes from 5-0 in epoch "e": older than deepServer's window.
func deepHello(tok string) string {
	return `{"type":"hello","token":"` + tok + `","last_id":"5-0","epoch":"e"}`
}

// TestLeavingClientFreesItsDeepRead: a client that closes its socket while
// its resume waits for a deep read ends that wait (its turn at Redis goes
// to the next), instead of holding it until the read comes back.
func TestLeavingClientFreesItsDeepRead(t *testing.T) {
	b := &stuckBackfill{started: make(chan struct{}), gaveUp: make(chan struct{})}
	wsURL, tok := deepServer(t, b)
	c := sendHello(t, wsURL, deepHello(tok))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	select {
	case <-b.started:
	case <-ctx.Done():
		t.Fatal("the resume never read deep")
	}
	_ = c.CloseNow()
	select {
	case <-b.gaveUp:
	case <-ctx.Done():
		t.Fatal("the deep read still waits for a client that left")
	}
}

// gatedBackfill is a deep read that returns nothing new once released.
type gatedBackfill struct {
	started chan struct{}
	release chan struct{}
}

func (b *gatedBackfill) ReadAfter(ctx context.Context, _ []string, _ protocol.ID) (string, []alarm.Entry, bool, error) {
	close(b.started)
	select {
	case <-b.release:
		return "e", nil, true, nil
	case <-ctx.Done():
		return "", nil, false, ctx.Err()
	}
}

// TestMessagesAroundTheWatch: a message the client sends while its
// resume is read and watched is left for the session, which answers it
// after the welcome; and once the watch is aborted, later messages are
// read as usual.
func TestMessagesAroundTheWatch(t *testing.T) {
	const change = `{"type":"state","op":"read","ids":["100-0"]}`
	for _, during := range []bool{true, false} {
		t.Run(fmt.Sprintf("during=%v", during), func(t *testing.T) {
			b := &gatedBackfill{started: make(chan struct{}), release: make(chan struct{})}
			wsURL, tok := deepServer(t, b)
			c := sendHello(t, wsURL, deepHello(tok))
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			<-b.started
			time.Sleep(watchAfter + 100*time.Millisecond) // the watch has started
			if during {
				if err := c.Write(ctx, websocket.MessageText, []byte(change)); err != nil {
					t.Fatal(err)
				}
				time.Sleep(50 * time.Millisecond) // it reaches the node while the read waits
			}
			close(b.release)
			got := readUntilError(ctx, t, c, !during, change)
			if !strings.Contains(got[0], `"welcome"`) || !strings.Contains(got[len(got)-1], string(protocol.CodeNoInbox)) {
				t.Fatalf("got %q; want the welcome, then the answer to the state change", got)
			}
		})
	}
}

// readUntilError reads messages until an error message; after the first
// (the welcome) it sends change when send is set.
func readUntilError(ctx context.Context, t *testing.T, c *websocket.Conn, send bool, change string) []string {
	t.Helper()
	var got []string
	for len(got) == 0 || !strings.Contains(got[len(got)-1], `"error"`) {
		_, m, err := c.Read(ctx)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		if len(got) == 0 && send {
			if err := c.Write(ctx, websocket.MessageText, []byte(change)); err != nil {
				t.Fatal(err)
			}
		}
		got = append(got, strings.Split(string(m), "\n")...)
	}
	return got
}

// TestBackedUpFrameIsFinished: a frame the socket took only in part is
// finished by the dedicated writer even when no other message follows it
// (it must not wait for the next alarm or ping).
func TestBackedUpFrameIsFinished(t *testing.T) {
	h, err := hub.New(hub.Config{NodeID: "t", Window: 10}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.Reset("e", nil, protocol.Zero)
	wsURL, tok := serveHub(t, h, nil, nil, nil, "big")
	c := dialHello(t, wsURL, tok)
	c.SetReadLimit(8 << 20)
	big := fmt.Sprintf(`{"type":"alarm","id":"1-0","channel":"user:big","event":"e","ts":1,"data":"%s"}`, strings.Repeat("x", 4<<20))
	h.Apply(alarm.Entry{ID: protocol.ID{MS: 1}, Channel: "user:big", Frame: []byte(big)})
	time.Sleep(200 * time.Millisecond) // the client reads nothing: the socket backs up
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, m, err := c.Read(ctx)
	if err != nil || len(m) != len(big) {
		t.Fatalf("read %d of %d bytes: %v", len(m), len(big), err)
	}
}

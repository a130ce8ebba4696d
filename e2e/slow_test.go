package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/protocol"
)

// rawClient is a hand-driven WebSocket client that can stop reading.
type rawClient struct {
	t   *testing.T
	h   *harness
	rc  *recClient // holds the record and the channels
	tok string
}

// dial connects to node i, sends hello (with a position unless lastID is
// "") and reads the welcome.
func (r *rawClient) dial(i int, lastID, epoch string) *websocket.Conn {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(r.h.ctx, 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, r.h.endpoints()[i], &websocket.DialOptions{HTTPClient: r.h.httpc})
	if err != nil {
		r.t.Fatalf("raw dial: %v", err)
	}
	c.SetReadLimit(8 << 20)
	hello := map[string]string{"type": "hello", "token": r.tok}
	if lastID != "" {
		hello["last_id"], hello["epoch"] = lastID, epoch
	}
	b, _ := json.Marshal(hello)
	if err := c.Write(ctx, websocket.MessageText, b); err != nil {
		r.t.Fatalf("raw hello: %v", err)
	}
	if _, err := r.readFrame(ctx, c); err != nil {
		r.t.Fatalf("raw welcome: %v", err)
	}
	return c
}

// readFrame reads one frame into the record.
func (r *rawClient) readFrame(ctx context.Context, c *websocket.Conn) (int, error) {
	_, b, err := c.Read(ctx)
	if err != nil {
		return 0, err
	}
	lines := bytes.Split(b, []byte("\n"))
	for _, l := range lines {
		r.rc.rec.raw(l)
	}
	return len(lines), nil
}

// drain reads until the connection ends and returns its close code.
func (r *rawClient) drain(c *websocket.Conn) (int, error) {
	for {
		ctx, cancel := context.WithTimeout(r.h.ctx, 10*time.Second)
		_, err := r.readFrame(ctx, c)
		cancel()
		if err != nil {
			code := int(websocket.CloseStatus(err))
			r.rc.rec.disconnect(client.Disconnect{Code: protocol.CloseCode(code)})
			return code, err
		}
	}
}

// TestSlowConsumer: a client that sends hello and then stops reading is
// closed with 4029 once its queue (GATEWAY_QUEUE_LEN=64) overflows; other
// clients, including another device of the same user, keep getting
// everything. The slow client reads what was buffered, sees 4029, resumes
// from its last id and loses nothing.
func TestSlowConsumer(t *testing.T) {
	h := newHarness(t, options{nodes: 2, env: map[string]string{"GATEWAY_QUEUE_LEN": "64"}})
	const users = 4
	cs := startFleet(t, h, fleetSpec{users: users})
	twin := newRecClient(h, "slow-d1", "slow", nil)
	startAll(t, []*recClient{twin})
	slow := &rawClient{t: t, h: h, rc: newRecClient(h, "slow-d0 (raw)", "slow", nil)}
	slow.tok = h.token("slow", nil)
	conn := slow.dial(0, "", "")
	defer conn.CloseNow()

	pub := newLoadPublisher(h)
	big := strings.Repeat("x", 24<<10)
	// Fixed, not scaled: 600 × 24 KiB overflows the socket buffers and the
	// queue, and publishing them takes well under the server's 10 s write
	// timeout, after which it would drop the socket without a close frame.
	const bigN = 600
	var wg sync.WaitGroup
	wg.Go(func() {
		pub.load(h.ctx, 400, bigN, 8, func(i int) (string, any) { return "user:slow", map[string]any{"n": i, "pad": big} })
	})
	wg.Go(func() { pub.load(h.ctx, 200, bigN/2, 4, fleetPick(users, 100)) })
	wg.Wait()

	// Resume reading: what was buffered, then the close.
	code, err := slow.drain(conn)
	if code != int(protocol.CloseSlowClient) {
		t.Errorf("slow client: connection ended with %v (code %d), want close 4029", err, code)
	}
	conns, _, _ := slow.rc.rec.snapshot()
	before := len(conns[0].alarms)
	lastID, epoch := conns[0].position, conns[0].epoch
	if before > 0 {
		lastID = conns[0].alarms[before-1].idStr
	}
	conn2 := slow.dial(1, lastID, epoch)
	defer conn2.CloseNow()
	readCtx, stopRead := context.WithCancel(h.ctx)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		for {
			if _, err := slow.readFrame(readCtx, conn2); err != nil {
				return
			}
		}
	}()
	checkPublisher(t, pub)
	truth := pub.truth()
	s := verifyAll(t, []*recClient{slow.rc}, truth, 20*time.Second)
	stopRead()
	<-readDone
	others := verifyAll(t, append(cs, twin), truth, 20*time.Second)
	conns, _, _ = slow.rc.rec.snapshot()
	summary(t, "slow: alarms=%d big_alarms=%d(24KiB) queue_len=64 slow_close=%d buffered_before_close=%d replayed_on_resume=%d resume_status=%s slow_lost=%d others_clients=%d others_lost=%d dup=%d reordered=%d",
		len(truth), bigN, code, before, conns[len(conns)-1].replayed, conns[len(conns)-1].status, s.lost, len(cs)+1, others.lost, s.dup+others.dup, s.reordered+others.reordered)
}

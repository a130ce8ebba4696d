package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/stream"
)

// wireAlarm is one alarm as it arrived on the wire.
type wireAlarm struct {
	id      sid
	idStr   string
	channel string
}

// connRec is what one connection delivered: its welcome and its alarms in
// arrival order, and how it ended.
type connRec struct {
	node, epoch, position, status string
	replayed                      int
	alarms                        []wireAlarm
	closeCode                     int // -1: no close frame; 0: still open
}

// record is a client's delivery record across all its connections.
type record struct {
	mu     sync.Mutex // guards every field below
	conns  []*connRec
	closes map[int]int // close code -> count
	bad    []string    // messages that could not be recorded
}

// wireLine is the subset of any server message the record needs.
type wireLine struct {
	Type     string `json:"type"`
	ID       string `json:"id"`
	Channel  string `json:"channel"`
	Node     string `json:"node"`
	Epoch    string `json:"epoch"`
	Position string `json:"position"`
	Resume   struct {
		Status   string `json:"status"`
		Replayed int    `json:"replayed"`
	} `json:"resume"`
}

// raw records one message line (Handler.Raw).
func (r *record) raw(line []byte) {
	var m wireLine
	err := json.Unmarshal(line, &m)
	r.mu.Lock()
	defer r.mu.Unlock()
	if err != nil {
		r.bad = append(r.bad, fmt.Sprintf("undecodable %q: %v", line, err))
		return
	}
	switch m.Type {
	case "welcome":
		r.conns = append(r.conns, &connRec{node: m.Node, epoch: m.Epoch, position: m.Position,
			status: m.Resume.Status, replayed: m.Resume.Replayed})
	case "alarm":
		id, ok := parseSID(m.ID)
		if !ok || len(r.conns) == 0 {
			r.bad = append(r.bad, fmt.Sprintf("alarm without welcome or id: %q", line))
			return
		}
		c := r.conns[len(r.conns)-1]
		c.alarms = append(c.alarms, wireAlarm{id: id, idStr: m.ID, channel: m.Channel})
	}
}

// disconnect records how the current connection ended.
func (r *record) disconnect(d client.Disconnect) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closes == nil {
		r.closes = make(map[int]int)
	}
	r.closes[int(d.Code)]++
	if n := len(r.conns); n > 0 && r.conns[n-1].closeCode == 0 {
		r.conns[n-1].closeCode = int(d.Code)
	}
}

// snapshot copies the record for checking.
func (r *record) snapshot() (conns []connRec, closes map[int]int, bad []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, c := range r.conns {
		cc := *c
		cc.alarms = slices.Clone(c.alarms)
		conns = append(conns, cc)
	}
	closes = make(map[int]int, len(r.closes))
	for k, v := range r.closes {
		closes[k] = v
	}
	return conns, closes, slices.Clone(r.bad)
}

// welcomes returns the number of welcomes received.
func (r *record) welcomes() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.conns)
}

// recClient is a client.Client whose every message is recorded. A naive
// recClient forgets its position: each connection is a fresh Client with
// no last_id, as a client without resume support behaves.
type recClient struct {
	name     string
	sub      string
	channels []string // every channel the token grants
	part     int      // the partition that serves it: its subject's
	naive    bool
	sse      bool // receives over Server-Sent Events (runSSE)
	h        *harness

	rec    record
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex // guards cur, dups, runErr
	cur     *client.Client
	dups    int64 // duplicates of naive clients' finished instances
	runErr  error
	lastPos [2]string // position of the last stopped client: id, epoch
}

func newRecClient(h *harness, name, sub string, extra []string) *recClient {
	chans := append([]string{"user:" + sub}, extra...)
	part, _ := stream.PartitionOf(chans[0], h.parts)
	return &recClient{name: name, sub: sub, channels: append(chans, "broadcast"), part: part, h: h}
}

// expected returns the alarms of truth c must receive: those on its
// channels, with their ids in its partition, in id order.
func (c *recClient) expected(truth []accepted) []accepted {
	return expectedFor(truth, c.part, c.channels)
}

// config is the client configuration; every connect mints a token.
func (c *recClient) config(lastID, epoch string) client.Config {
	extra := c.channels[1 : len(c.channels)-1]
	tok := c.h.token(c.sub, extra)
	return client.Config{
		Endpoints:   c.h.endpoints(),
		Token:       func(context.Context) (string, error) { return tok, nil },
		LastID:      lastID,
		Epoch:       epoch,
		MinBackoff:  50 * time.Millisecond,
		MaxBackoff:  time.Second,
		DialTimeout: 5 * time.Second,
		HTTPClient:  c.h.httpc,
	}
}

// start runs the client (from lastID/epoch, "" for none) in the background.
func (c *recClient) start(lastID, epoch string) {
	ctx, cancel := context.WithCancel(c.h.ctx)
	c.cancel, c.done = cancel, make(chan struct{})
	hd := client.Handler{Raw: c.rec.raw, Disconnect: c.rec.disconnect}
	go func() {
		defer close(c.done)
		if c.naive {
			c.runNaive(ctx, hd)
			return
		}
		if c.sse {
			c.runSSE(ctx, hd, lastID, epoch)
			return
		}
		cl, err := client.New(c.config(lastID, epoch))
		if err == nil {
			c.mu.Lock()
			c.cur = cl
			c.mu.Unlock()
			err = cl.Run(ctx, hd)
		}
		c.mu.Lock()
		c.runErr = err
		c.mu.Unlock()
	}()
}

// runNaive connects with a fresh Client (no position) after every
// disconnect.
func (c *recClient) runNaive(ctx context.Context, hd client.Handler) {
	for ctx.Err() == nil {
		cl, err := client.New(c.config("", ""))
		if err != nil {
			c.mu.Lock()
			c.runErr = err
			c.mu.Unlock()
			return
		}
		one, cancel := context.WithCancel(ctx)
		h := hd
		h.Disconnect = func(d client.Disconnect) { hd.Disconnect(d); cancel() }
		_ = cl.Run(one, h)
		cancel()
		c.mu.Lock()
		c.dups += cl.Duplicates()
		c.mu.Unlock()
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// stop ends the client and remembers its position.
func (c *recClient) stop() {
	if c.cancel == nil {
		return
	}
	c.cancel()
	<-c.done
	c.cancel = nil
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cur != nil {
		id, ep := c.cur.Position()
		c.lastPos = [2]string{id, ep}
		c.dups += c.cur.Duplicates()
		c.cur = nil
	}
}

// duplicates returns the client-side de-duplication count (must be 0).
func (c *recClient) duplicates() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.dups
	if c.cur != nil {
		n += c.cur.Duplicates()
	}
	return n
}

func (c *recClient) err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runErr
}

// fleetSpec describes the standard client population.
type fleetSpec struct {
	users int // users u0..u{users-1}, 2 or 3 devices each
}

// startFleet starts the standard clients: users with 2-3 devices, every
// third user also on team:x, every fifth on team:y; all on broadcast; every
// fourth client over SSE, the others over WebSocket. It waits until every
// client has its first welcome.
func startFleet(t *testing.T, h *harness, spec fleetSpec) []*recClient {
	t.Helper()
	var cs []*recClient
	for u := range spec.users {
		var extra []string
		if u%3 == 0 {
			extra = append(extra, "team:x")
		}
		if u%5 == 0 {
			extra = append(extra, "team:y")
		}
		for d := range 2 + u%2 {
			sub := fmt.Sprintf("u%d", u)
			c := newRecClient(h, fmt.Sprintf("%s-d%d", sub, d), sub, extra)
			c.sse = len(cs)%4 == 3
			if c.sse {
				c.name += "-sse"
			}
			cs = append(cs, c)
		}
	}
	startAll(t, cs)
	return cs
}

// startAll starts clients without a position, stops them at cleanup and
// waits until each has its first welcome.
func startAll(t *testing.T, cs []*recClient) {
	t.Helper()
	for _, c := range cs {
		c.start("", "")
	}
	t.Cleanup(func() {
		for _, c := range cs {
			if c.cancel != nil {
				c.cancel()
			}
		}
		for _, c := range cs {
			c.stop()
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for _, c := range cs {
		for c.rec.welcomes() == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("client %s: no welcome within 20s (err %v)", c.name, c.err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// fleetPick is the standard traffic: mostly user channels (including users
// nobody listens to), some team and some broadcast alarms.
func fleetPick(users int, payload int) pickFunc {
	pad := make([]byte, payload)
	for i := range pad {
		pad[i] = 'a' + byte(i%26)
	}
	text := string(pad)
	return func(i int) (string, any) {
		data := map[string]any{"n": i, "pad": text}
		switch r := i % 20; {
		case r == 0:
			return "broadcast", data
		case r <= 2:
			return []string{"team:x", "team:y"}[i%2], data
		default:
			return fmt.Sprintf("user:u%d", (i*7919)%(users+4)), data
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// device is one client of a user that keeps an inbox view: the inbox
// alarms it received, with the state that the state events it received
// (live or replayed) gave them, and the last counts it received.
type device struct {
	user string
	c    *client.Client
	done chan struct{}

	mu       sync.Mutex // guards the fields below
	order    []string
	bits     map[string]int
	counts   protocol.Counts
	statuses map[protocol.Status]int
	welcomes []string // "status@position node", for failure messages
}

func startDevice(h *harness, user string) *device {
	d := &device{user: user, done: make(chan struct{}), bits: map[string]int{}, statuses: map[protocol.Status]int{}}
	tok := h.token(user, nil)
	c, err := client.New(client.Config{Endpoints: h.endpoints(), Token: func(context.Context) (string, error) { return tok, nil },
		MinBackoff: 50 * time.Millisecond, MaxBackoff: time.Second, HTTPClient: h.httpc})
	if err != nil {
		h.t.Fatal(err)
	}
	d.c = c
	go func() {
		defer close(d.done)
		_ = c.Run(h.ctx, client.Handler{Alarm: d.alarm, State: d.state, Welcome: d.welcome})
	}()
	return d
}

func (d *device) welcome(w client.Welcome) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.statuses[w.Status]++
	d.welcomes = append(d.welcomes, fmt.Sprintf("%s@%s %s (order %d)", w.Status, w.Position, w.Node, len(d.order)))
	if w.Inbox != nil {
		d.counts = *w.Inbox
	}
}

func (d *device) alarm(a client.Alarm) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a.Counts == nil {
		return // broadcast: not part of the inbox
	}
	d.order = append(d.order, a.ID)
	d.bits[a.ID] = 0
	d.counts = *a.Counts
}

func (d *device) state(s client.State) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.counts = s.Counts
	if s.UpTo != "" {
		upTo, _ := parseSID(s.UpTo)
		for _, id := range d.order {
			if p, _ := parseSID(id); p.compare(upTo) <= 0 {
				d.bits[id] = stream.ApplyOp(s.Op, d.bits[id])
			}
		}
	}
	for _, id := range s.IDs {
		if b, ok := d.bits[id]; ok {
			d.bits[id] = stream.ApplyOp(s.Op, b)
		}
	}
}

func (d *device) view() (map[string]int, protocol.Counts, []string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.bits), d.counts, append([]string(nil), d.order...)
}

// serverInbox reads a user's whole inbox with GET /v1/inbox, page by page.
func serverInbox(ctx context.Context, h *harness, user string) (map[string]int, protocol.Counts, error) {
	out := map[string]int{}
	var counts protocol.Counts
	q := client.InboxQuery{Limit: 7} // small pages: pagination is part of what is checked
	for page := 0; ; page++ {
		in, err := h.publisher(page%len(h.addrs)).Inbox(ctx, user, q)
		if err != nil {
			return nil, counts, err
		}
		if page == 0 {
			counts = protocol.Counts{Unread: in.Unread, Unseen: in.Unseen}
		} else if (protocol.Counts{Unread: in.Unread, Unseen: in.Unseen}) != counts {
			return nil, counts, fmt.Errorf("counts changed between pages")
		}
		for _, it := range in.Items {
			b := 0
			if it.Seen {
				b |= stream.BitSeen
			}
			if it.Read {
				b |= stream.BitRead
			}
			if it.Archived {
				b |= stream.BitArchived
			}
			out[it.Alarm.ID] = b
		}
		if in.Next == "" {
			return out, counts, nil
		}
		q.Before = in.Next
	}
}

func countsOf(bits map[string]int) protocol.Counts {
	var c protocol.Counts
	for _, b := range bits {
		one := stream.CountOf(b)
		c.Unread += one.Unread
		c.Unseen += one.Unseen
	}
	return c
}

// TestInboxStateUnderKills: random publishes and state changes (over the
// WebSocket from the devices and over HTTP from the backend) on three
// nodes while nodes are SIGKILLed. Afterwards every device's view (its
// alarms with the state events it received applied, and its last counts),
// GET /v1/inbox and the counts agree.
func TestInboxStateUnderKills(t *testing.T) {
	testInboxUnderKills(t, options{nodes: 3}, []string{"ia", "ib", "ic", "id"}, 20*time.Second)
}

// TestInboxStateUnderKillsPartitioned: the same with three partitions on a
// 3-master Cluster, for a shorter time, with users of every partition.
func TestInboxStateUnderKillsPartitioned(t *testing.T) {
	testInboxUnderKills(t, partitioned(3, clusterPartitions), []string{"ia", "ic", "if", "ij"}, 15*time.Second)
}

func testInboxUnderKills(t *testing.T, opts options, users []string, length time.Duration) {
	h := newHarness(t, opts)
	perPart := checkSpread(t, h.parts, users)
	var devices []*device
	for _, u := range users {
		for range 2 {
			devices = append(devices, startDevice(h, u))
		}
	}
	// A device that starts after alarms were published would need GET
	// /v1/inbox to learn them (status new): start the load once all are in.
	for _, d := range devices {
		testutil.WaitFor(t, 20*time.Second, "a welcome", func() bool { d.mu.Lock(); defer d.mu.Unlock(); return len(d.welcomes) > 0 })
	}
	dur := scaled(t, length, 5*time.Second)
	ctx, stop := context.WithTimeout(h.ctx, dur)
	defer stop()
	var (
		wg              sync.WaitGroup
		kills           int
		killErr         error
		mu              sync.Mutex
		ids             = map[string][]string{} // published inbox alarms per user
		pubs, changes   int
		wsSent, httpOK  int
		ops             = []string{protocol.OpSeen, protocol.OpRead, protocol.OpRead, protocol.OpUnread, protocol.OpArchive, protocol.OpUnarchive}
		rng             = rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
		publishAndTrack = func(user string) {
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			defer cancel()
			res, err := h.publisher(rand.IntN(len(h.addrs))).Publish(cctx, "user:"+user, "e", map[string]int{"n": pubs}, "")
			if err == nil {
				mu.Lock()
				ids[user] = append(ids[user], res.ID)
				pubs++
				mu.Unlock()
			}
		}
	)
	wg.Go(func() { kills, killErr = h.killLoop(ctx, 3*time.Second) })
	wg.Go(func() {
		for ctx.Err() == nil {
			if rand.IntN(5) == 0 {
				cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				_, _ = h.publisher(rand.IntN(len(h.addrs))).Publish(cctx, "broadcast", "b", nil, "")
				cancel()
			} else {
				publishAndTrack(users[rand.IntN(len(users))])
			}
			sleepCtx(ctx, 20*time.Millisecond)
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			sleepCtx(ctx, 15*time.Millisecond)
			mu.Lock()
			d := devices[rng.IntN(len(devices))]
			known := ids[d.user]
			if len(known) == 0 {
				mu.Unlock()
				continue
			}
			op := ops[rng.IntN(len(ops))]
			var pick []string
			upTo := ""
			if rng.IntN(5) == 0 {
				upTo = known[rng.IntN(len(known))]
			} else {
				for range 1 + rng.IntN(3) {
					pick = append(pick, known[rng.IntN(len(known))])
				}
			}
			changes++
			mu.Unlock()
			cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			if rng.IntN(2) == 0 {
				if d.c.ChangeState(cctx, op, pick, upTo) == nil {
					mu.Lock()
					wsSent++
					mu.Unlock()
				}
			} else if _, err := h.publisher(rng.IntN(len(h.addrs))).ChangeState(cctx, d.user, op, pick, upTo); err == nil {
				mu.Lock()
				httpOK++
				mu.Unlock()
			}
			cancel()
		}
	})
	wg.Wait()
	if killErr != nil {
		t.Fatalf("kill loop: %v", killErr)
	}
	if err := h.allReady(); err != nil {
		t.Fatal(err)
	}
	// Converge: every device ends with GET /v1/inbox's states and counts.
	deadline := time.Now().Add(30 * time.Second)
	for _, u := range users {
		for {
			err := checkInboxAgrees(h, u, devices)
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("user %s: %v", u, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	statuses := map[protocol.Status]int{}
	for _, d := range devices {
		d.mu.Lock()
		for s, n := range d.statuses {
			statuses[s] += n
		}
		d.mu.Unlock()
	}
	summary(t, "inbox%s: publishes=%d changes=%d ws_sent=%d http_ok=%d kills=%d devices=%d users_per_partition=%v welcomes=%v",
		h.partitionLabel(), pubs, changes, wsSent, httpOK, kills, len(devices), perPart, statuses)
}

// checkInboxAgrees compares the server's inbox of user with its counts
// and with every device of user.
func checkInboxAgrees(h *harness, user string, devices []*device) error {
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	srv, counts, err := serverInbox(ctx, h, user)
	if err != nil {
		return err
	}
	if c := countsOf(srv); c != counts {
		return fmt.Errorf("server counts %+v, its states say %+v", counts, c)
	}
	for i, d := range devices {
		if d.user != user {
			continue
		}
		bits, dc, _ := d.view()
		if dc != counts {
			return fmt.Errorf("device %d: counts %+v, server %+v", i, dc, counts)
		}
		if len(bits) != len(srv) {
			var missing []string
			for id := range srv {
				if _, ok := bits[id]; !ok {
					missing = append(missing, id)
				}
			}
			d.mu.Lock()
			w := d.welcomes
			d.mu.Unlock()
			return fmt.Errorf("device %d: %d inbox alarms, server %d; missing %v; welcomes %v", i, len(bits), len(srv), missing, w)
		}
		for id, b := range srv {
			if db, ok := bits[id]; !ok || db != b {
				return fmt.Errorf("device %d: alarm %s state %d (present %v), server %d", i, id, db, ok, b)
			}
		}
	}
	return nil
}

package node

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

// inboxView is what one device knows of its inbox: the inbox alarms it
// received with the state their state events gave them, and the last
// counts it received.
type inboxView struct {
	mu       sync.Mutex
	order    []string
	bits     map[string]int
	counts   protocol.Counts
	welcomes []client.Welcome
	errs     []protocol.Error
	c        *client.Client
	stop     context.CancelFunc
	done     chan struct{}
}

func startInboxView(t *testing.T, tok string, endpoints ...string) *inboxView {
	t.Helper()
	c, err := client.New(client.Config{Endpoints: endpoints, Token: func(context.Context) (string, error) { return tok, nil },
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &inboxView{bits: map[string]int{}, c: c, stop: cancel, done: make(chan struct{})}
	go func() {
		defer close(v.done)
		_ = c.Run(ctx, client.Handler{Alarm: v.alarm, State: v.state, Welcome: v.welcome,
			Error: func(e protocol.Error) { v.mu.Lock(); v.errs = append(v.errs, e); v.mu.Unlock() }})
	}()
	t.Cleanup(func() { cancel(); <-v.done })
	return v
}

func (v *inboxView) welcome(w client.Welcome) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.welcomes = append(v.welcomes, w)
	if w.Inbox != nil {
		v.counts = *w.Inbox
	}
}

func (v *inboxView) alarm(a client.Alarm) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if a.Counts == nil {
		return // not an inbox alarm
	}
	v.order = append(v.order, a.ID)
	v.bits[a.ID] = 0
	v.counts = *a.Counts
}

func (v *inboxView) state(s client.State) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.counts = s.Counts
	apply := func(id string) {
		if b, ok := v.bits[id]; ok {
			v.bits[id] = stream.ApplyOp(s.Op, b)
		}
	}
	if s.UpTo != "" {
		upTo, _ := protocol.ParseID(s.UpTo)
		for _, id := range v.order {
			if p, _ := protocol.ParseID(id); !upTo.Less(p) {
				apply(id)
			}
		}
	}
	for _, id := range s.IDs {
		apply(id)
	}
}

func (v *inboxView) snapshot() (map[string]int, protocol.Counts) {
	v.mu.Lock()
	defer v.mu.Unlock()
	m := make(map[string]int, len(v.bits))
	for k, b := range v.bits {
		m[k] = b
	}
	return m, v.counts
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func inboxPage(t *testing.T, n *testNode, user string, q client.InboxQuery) client.Inbox {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in, err := n.publisher().Inbox(ctx, user, q)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

// TestInboxSyncAcrossNodes: a change made on one node's connection reaches
// the user's connection on another node as a state event with the counts;
// the welcome carries the counts; HTTP with the user's token and with an
// API key see and change the same state.
func TestInboxSyncAcrossNodes(t *testing.T) {
	prefix := testutil.Prefix(t)
	a := startNode(t, prefix, "a", nil)
	b := startNode(t, prefix, "b", nil)
	tok := token(t, "ann", nil, time.Hour)
	va := startInboxView(t, tok, a.wsURL)
	vb := startInboxView(t, tok, b.wsURL)
	waitUntil(t, "welcomes", func() bool {
		va.mu.Lock()
		defer va.mu.Unlock()
		vb.mu.Lock()
		defer vb.mu.Unlock()
		return len(va.welcomes) == 1 && len(vb.welcomes) == 1
	})
	if w := va.welcomes[0]; w.Inbox == nil || *w.Inbox != (protocol.Counts{}) {
		t.Fatalf("welcome inbox %+v", w.Inbox)
	}
	var ids []string
	for i := range 5 {
		ids = append(ids, publish(t, a, "user:ann", i))
	}
	publish(t, a, "broadcast", 9) // not part of the inbox
	want := protocol.Counts{Unread: 5, Unseen: 5}
	for _, v := range []*inboxView{va, vb} {
		waitUntil(t, "alarms", func() bool { m, c := v.snapshot(); return len(m) == 5 && c == want })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := va.c.ChangeState(ctx, protocol.OpRead, ids[:2], ""); err != nil {
		t.Fatal(err)
	}
	want = protocol.Counts{Unread: 3, Unseen: 3}
	waitUntil(t, "state on the other node", func() bool {
		m, c := vb.snapshot()
		return c == want && m[ids[0]] == stream.BitSeen|stream.BitRead && m[ids[2]] == 0
	})
	// The backend marks everything seen; the user's token marks all read.
	res, err := a.publisher().ChangeState(ctx, "ann", protocol.OpSeen, nil, ids[4])
	if err != nil || res.Changed != 3 || res.Unseen != 0 || res.ID == "" {
		t.Fatalf("ChangeState = %+v, %v", res, err)
	}
	body := `{"op":"read","up_to":"` + ids[3] + `"}`
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, b.url+"/v1/inbox/state", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var sr client.StateResult
	_ = json.NewDecoder(resp.Body).Decode(&sr)
	resp.Body.Close()
	if resp.StatusCode != 200 || sr.Changed != 2 || sr.Unread != 1 {
		t.Fatalf("POST with token: %d %+v", resp.StatusCode, sr)
	}
	want = protocol.Counts{Unread: 1, Unseen: 0}
	for _, v := range []*inboxView{va, vb} {
		waitUntil(t, "counts", func() bool { _, c := v.snapshot(); return c == want })
	}
	// GET /v1/inbox agrees with the views.
	in := inboxPage(t, b, "ann", client.InboxQuery{})
	if in.Unread != 1 || in.Unseen != 0 || len(in.Items) != 5 || in.Items[0].Alarm.ID != ids[4] {
		t.Fatalf("inbox %+v", in)
	}
	mb, _ := vb.snapshot()
	for _, it := range in.Items {
		bits := 0
		if it.Seen {
			bits |= stream.BitSeen
		}
		if it.Read {
			bits |= stream.BitRead
		}
		if mb[it.Alarm.ID] != bits {
			t.Fatalf("alarm %s: inbox %+v, view %d", it.Alarm.ID, it, mb[it.Alarm.ID])
		}
	}
	// A new connection's welcome carries the counts.
	vc := startInboxView(t, tok, b.wsURL)
	waitUntil(t, "welcome counts", func() bool { _, c := vc.snapshot(); return c == want && len(vc.welcomes) == 1 })
}

func TestInboxPagesAndFilters(t *testing.T) {
	prefix := testutil.Prefix(t)
	n := startNode(t, prefix, "a", nil)
	var ids []string
	for i := range 7 {
		ids = append(ids, publish(t, n, "user:bo", i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p := n.publisher()
	if _, err := p.ChangeState(ctx, "bo", protocol.OpRead, []string{ids[1], ids[5]}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ChangeState(ctx, "bo", protocol.OpArchive, []string{ids[0]}, ""); err != nil {
		t.Fatal(err)
	}
	var got []string
	q := client.InboxQuery{Limit: 3}
	for {
		in := inboxPage(t, n, "bo", q)
		for _, it := range in.Items {
			got = append(got, it.Alarm.ID)
		}
		if in.Next == "" {
			break
		}
		q.Before = in.Next
	}
	if len(got) != 7 || got[0] != ids[6] || got[6] != ids[0] {
		t.Fatalf("pages %v", got)
	}
	tr, fa := true, false
	unread := inboxPage(t, n, "bo", client.InboxQuery{Unread: &tr, Archived: &fa})
	if len(unread.Items) != 4 || unread.Unread != 4 {
		t.Fatalf("unread unarchived %+v", unread)
	}
	archived := inboxPage(t, n, "bo", client.InboxQuery{Archived: &tr})
	if len(archived.Items) != 1 || archived.Items[0].Alarm.ID != ids[0] || !archived.Items[0].Archived {
		t.Fatalf("archived %+v", archived)
	}
	// Errors: no user with an API key, a bad change, a foreign user with a token.
	_, err := p.ChangeState(ctx, "", protocol.OpRead, ids, "")
	var ae *client.APIError
	if !errors.As(err, &ae) || ae.Status != 400 {
		t.Fatalf("no user: %v", err)
	}
	if _, err = p.ChangeState(ctx, "bo", "explode", ids, ""); !errors.As(err, &ae) || ae.Code != "invalid_change" {
		t.Fatalf("bad op: %v", err)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, n.url+"/v1/inbox?user=eve", nil)
	req.Header.Set("Authorization", "Bearer "+token(t, "bo", nil, time.Hour))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("foreign user with a token: %d", resp.StatusCode)
	}
}

// TestInboxWSErrors: a bad state message is answered with an error message
// and the connection stays; a binary frame closes it with 4000.
func TestInboxWSErrors(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	c := rawHello(t, n, map[string]any{"type": "hello", "token": token(t, "cy", nil, time.Hour)})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, _, err := c.Read(ctx); err != nil { // welcome
		t.Fatal(err)
	}
	for _, msg := range []string{`{"type":"state","op":"read"}`, `[1]`, `{"type":"state","op":"read","ids":["1-1"],"Op":"x"}`} {
		if err := c.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, b, err := c.Read(ctx)
		var e protocol.Error
		if err != nil || json.Unmarshal(b, &e) != nil || e.Type != protocol.TypeError || e.Error != "bad_request" {
			t.Fatalf("%s: answer %s %v", msg, b, err)
		}
	}
	if err := c.Write(ctx, websocket.MessageBinary, []byte{1}); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.Read(ctx)
	if websocket.CloseStatus(err) != websocket.StatusCode(protocol.CloseProtocol) {
		t.Fatalf("binary frame: %v", err)
	}
}

// TestAlarmListingHasNoStateEvents: GET /v1/alarms on an inbox channel lists
// its alarms only, not the state events its backlog also holds.
func TestAlarmListingHasNoStateEvents(t *testing.T) {
	n := startNode(t, testutil.Prefix(t), "a", nil)
	ids := []string{publish(t, n, "user:di", 0)}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := n.publisher().ChangeState(ctx, "di", protocol.OpRead, ids, ""); err != nil {
		t.Fatal(err)
	}
	ids = append(ids, publish(t, n, "user:di", 1))
	h, err := n.publisher().History(ctx, "user:di", "", 10)
	if err != nil || len(h.Alarms) != 2 || h.Alarms[0].ID != ids[0] || h.Alarms[1].ID != ids[1] {
		t.Fatalf("listing %+v %v", h, err)
	}
}

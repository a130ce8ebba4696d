package stream

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

var realRedis = backends[0]

// inboxModel recomputes an inbox from the operations alone: the channel's
// history (its alarms, depth of them; state events are kept apart) and
// each retained alarm's bits.
type inboxModel struct {
	depth int
	items []protocol.ID // the backlog, oldest first
	bits  map[protocol.ID]int
}

func newInboxModel(depth int) *inboxModel {
	return &inboxModel{depth: depth, bits: map[protocol.ID]int{}}
}

func (m *inboxModel) push(id protocol.ID) {
	m.items = append(m.items, id)
	if len(m.items) <= m.depth+m.depth/8 { // trimmed in steps, as log.lua's chan_push does
		return
	}
	for len(m.items) > m.depth {
		delete(m.bits, m.items[0])
		m.items = m.items[1:]
	}
}

// change applies c and returns the ids whose state changed.
func (m *inboxModel) change(c protocol.StateChange) []protocol.ID {
	var changed []protocol.ID
	apply := func(id protocol.ID) {
		b, ok := m.bits[id]
		if !ok {
			return
		}
		if nb := ApplyOp(c.Op, b); nb != b {
			m.bits[id] = nb
			changed = append(changed, id)
		}
	}
	if c.UpTo != "" {
		upTo, _ := protocol.ParseID(c.UpTo)
		for _, id := range m.items {
			if !upTo.Less(id) {
				apply(id)
			}
		}
	}
	for _, s := range c.IDs {
		id, _ := protocol.ParseID(s)
		apply(id)
	}
	return changed
}

func (m *inboxModel) counts() protocol.Counts {
	var c protocol.Counts
	for _, b := range m.bits {
		d := CountOf(b)
		c.Unread += d.Unread
		c.Unseen += d.Unseen
	}
	return c
}

// checkInbox compares the stored inbox with the model and its counts with
// the counts its own states give.
func checkInbox(t *testing.T, s *Store, ch string, m *inboxModel) Inbox {
	t.Helper()
	in := readWholeInbox(t, s, ch)
	var fromStates protocol.Counts
	got := map[protocol.ID]int{}
	for _, it := range in.Items {
		d := CountOf(it.Bits)
		fromStates.Unread += d.Unread
		fromStates.Unseen += d.Unseen
		got[it.Alarm.ID] = it.Bits
	}
	if in.Counts != fromStates {
		t.Fatalf("counts %+v, states say %+v", in.Counts, fromStates)
	}
	if in.Counts != m.counts() || len(got) != len(m.bits) {
		t.Fatalf("inbox %v counts %+v, model %v counts %+v", got, in.Counts, m.bits, m.counts())
	}
	for id, b := range m.bits {
		if got[id] != b {
			t.Fatalf("alarm %s: bits %d, model %d", id, got[id], b)
		}
	}
	if c, ok, err := s.Counts(testCtx(t), ch); err != nil || !ok || c != in.Counts {
		t.Fatalf("Counts = %+v %v %v, inbox says %+v", c, ok, err, in.Counts)
	}
	checkFilters(t, s, ch, m)
	return in
}

// checkFilters compares every filtered listing of the inbox with the
// model's alarms that pass the filter, newest first.
func checkFilters(t *testing.T, s *Store, ch string, m *inboxModel) {
	t.Helper()
	tr, fa := true, false
	for _, unread := range []*bool{nil, &tr, &fa} {
		for _, archived := range []*bool{nil, &tr, &fa} {
			q := InboxQuery{Limit: 3, Unread: unread, Archived: archived}
			var want, got []protocol.ID
			for _, id := range slices.Backward(m.items) {
				b, ok := m.bits[id]
				if ok && (unread == nil || *unread == (b&BitRead == 0)) && (archived == nil || *archived == (b&BitArchived != 0)) {
					want = append(want, id)
				}
			}
			for _, it := range readInboxQuery(t, s, ch, q).Items {
				got = append(got, it.Alarm.ID)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("filter unread=%v archived=%v: %v, model %v", fmtBool(unread), fmtBool(archived), got, want)
			}
		}
	}
}

func fmtBool(b *bool) string {
	if b == nil {
		return "any"
	}
	return strconv.FormatBool(*b)
}

// readWholeInbox reads every page of an inbox, checking that the pages
// agree on the epoch and counts and follow one another.
func readWholeInbox(t *testing.T, s *Store, ch string) Inbox {
	t.Helper()
	return readInboxQuery(t, s, ch, InboxQuery{Limit: 7})
}

// readInboxQuery reads every page of an inbox that q selects.
func readInboxQuery(t *testing.T, s *Store, ch string, q InboxQuery) Inbox {
	t.Helper()
	var all Inbox
	for page := 0; ; page++ {
		in, err := s.ReadInbox(testCtx(t), ch, q)
		if err != nil {
			t.Fatal(err)
		}
		if page > 0 && (in.Epoch != all.Epoch || in.Counts != all.Counts) {
			t.Fatalf("page %d: epoch %q counts %+v, first page %q %+v", page, in.Epoch, in.Counts, all.Epoch, all.Counts)
		}
		all.Epoch, all.Counts = in.Epoch, in.Counts
		all.Items = append(all.Items, in.Items...)
		if in.Next.IsZero() {
			return all
		}
		if len(in.Items) != q.Limit || in.Next != in.Items[len(in.Items)-1].Alarm.ID {
			t.Fatalf("page %d: %d items, next %s", page, len(in.Items), in.Next)
		}
		q.Before = in.Next
	}
}

func TestStateOps(t *testing.T) {
	for _, b := range backends { // miniredis: the demo's embedded Redis
		t.Run(b.name, func(t *testing.T) { testStateOps(t, b) })
	}
}

func testStateOps(t *testing.T, b backend) {
	s, _ := newTestStore(t, b, Config{})
	ch := "user:ann"
	pubs := publishN(t, s, 4, ch)
	ids := make([]string, len(pubs))
	for i, p := range pubs {
		ids[i] = p.ID.String()
	}
	m := newInboxModel(int(DefaultChannelBacklog))
	for _, p := range pubs {
		m.push(p.ID)
		m.bits[p.ID] = 0
	}
	checkInbox(t, s, ch, m)
	steps := []struct {
		name    string
		change  protocol.StateChange
		changed int
		counts  protocol.Counts
	}{
		{"seen one", protocol.StateChange{Op: protocol.OpSeen, IDs: ids[:1]}, 1, protocol.Counts{Unread: 4, Unseen: 3}},
		{"seen again", protocol.StateChange{Op: protocol.OpSeen, IDs: ids[:1]}, 0, protocol.Counts{Unread: 4, Unseen: 3}},
		{"read two", protocol.StateChange{Op: protocol.OpRead, IDs: ids[:2]}, 2, protocol.Counts{Unread: 2, Unseen: 2}},
		{"unread one", protocol.StateChange{Op: protocol.OpUnread, IDs: ids[1:2]}, 1, protocol.Counts{Unread: 3, Unseen: 2}},
		{"archive unread", protocol.StateChange{Op: protocol.OpArchive, IDs: ids[3:]}, 1, protocol.Counts{Unread: 2, Unseen: 1}},
		{"unknown id", protocol.StateChange{Op: protocol.OpRead, IDs: []string{"1-1"}}, 0, protocol.Counts{Unread: 2, Unseen: 1}},
		{"read all up to third", protocol.StateChange{Op: protocol.OpRead, UpTo: ids[2]}, 2, protocol.Counts{Unread: 0, Unseen: 0}},
		{"unarchive", protocol.StateChange{Op: protocol.OpUnarchive, IDs: ids[3:]}, 1, protocol.Counts{Unread: 1, Unseen: 1}},
		{"seen all beyond the end", protocol.StateChange{Op: protocol.OpSeen, UpTo: "99999999999999-0"}, 1, protocol.Counts{Unread: 1, Unseen: 0}},
		{"read all again", protocol.StateChange{Op: protocol.OpRead, UpTo: ids[2]}, 0, protocol.Counts{Unread: 1, Unseen: 0}},
	}
	for _, st := range steps {
		res, err := s.ChangeState(testCtx(t), ch, st.change)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		want := m.change(st.change)
		if res.Changed != st.changed || len(want) != st.changed || res.Counts != st.counts {
			t.Fatalf("%s: changed %d (model %d), counts %+v; want %d, %+v", st.name, res.Changed, len(want), res.Counts, st.changed, st.counts)
		}
		if (res.ID == protocol.Zero) != (st.changed == 0) {
			t.Fatalf("%s: event id %s with %d changed", st.name, res.ID, st.changed)
		}
		checkInbox(t, s, ch, m)
	}
}

func TestStateEventThroughTheLog(t *testing.T) {
	s, _ := newTestStore(t, realRedis, Config{})
	ch := "user:bo"
	pubs := publishN(t, s, 2, ch)
	sub := s.rdb.Subscribe(testCtx(t), s.LiveChannel())
	defer sub.Close()
	if _, err := sub.Receive(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	res, err := s.ChangeState(testCtx(t), ch, protocol.StateChange{Op: protocol.OpRead, UpTo: pubs[1].ID.String()})
	if err != nil {
		t.Fatal(err)
	}
	msg, err := sub.ReceiveMessage(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	live, err := alarm.ParseLive([]byte(msg.Payload))
	if err != nil {
		t.Fatalf("live payload %q: %v", msg.Payload, err)
	}
	if live.Pred != pubs[1].ID || len(live.Entries) != 1 || live.Entries[0].ID != res.ID || live.Entries[0].IsAlarm() {
		t.Fatalf("live %+v", live)
	}
	var st protocol.State
	if err := json.Unmarshal(live.Entries[0].Frame, &st); err != nil {
		t.Fatalf("frame %s: %v", live.Entries[0].Frame, err)
	}
	want := protocol.State{Type: protocol.TypeState, ID: res.ID.String(), TS: int64(res.ID.MS), Channel: ch,
		Op: protocol.OpRead, UpTo: pubs[1].ID.String()}
	if !jsonEqual(st, want) {
		t.Fatalf("state %+v, want %+v", st, want)
	}
	// The same bytes from the stream and the channel backlog.
	entries, err := s.Range(testCtx(t), pubs[1].ID, 10)
	if err != nil || len(entries) != 1 || string(entries[0].Frame) != string(live.Entries[0].Frame) {
		t.Fatalf("range %v %v", entries, err)
	}
	cr, err := s.ReadBacklogs(testCtx(t), []BacklogRead{{Channel: ch, After: pubs[0].ID}}, 0)
	if err != nil || len(cr.Pages[0].Alarms) != 2 || string(cr.Pages[0].Alarms[1].Frame) != string(live.Entries[0].Frame) {
		t.Fatalf("backlog %+v %v", cr, err)
	}
	// The inbox alarms carry the counts after them.
	var a protocol.Alarm
	if err := json.Unmarshal(cr.Pages[0].Alarms[0].Frame, &a); err != nil || a.Unread == nil || *a.Unread != 2 || *a.Unseen != 2 {
		t.Fatalf("alarm %s: %v", cr.Pages[0].Alarms[0].Frame, err)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

func TestStateBroadcastIsNoInbox(t *testing.T) {
	s, rdb := newTestStore(t, realRedis, Config{})
	publishN(t, s, 3, alarm.BroadcastChannel, "user:cy")
	if _, err := s.ChangeState(testCtx(t), alarm.BroadcastChannel, protocol.StateChange{Op: protocol.OpRead, UpTo: "9-9"}); err != ErrNoInbox {
		t.Fatalf("broadcast change: %v", err)
	}
	if _, err := s.ReadInbox(testCtx(t), alarm.BroadcastChannel, InboxQuery{}); err != ErrNoInbox {
		t.Fatalf("broadcast inbox: %v", err)
	}
	ix, ib, se := s.keys.inbox(alarm.BroadcastChannel)
	if n, _ := rdb.Exists(testCtx(t), ix, ib, se).Result(); n != 0 {
		t.Fatal("broadcast has inbox state")
	}
	in, err := s.ReadInbox(testCtx(t), "user:cy", InboxQuery{})
	if err != nil || len(in.Items) != 1 || in.Counts != (protocol.Counts{Unread: 1, Unseen: 1}) {
		t.Fatalf("inbox %+v %v", in, err)
	}
	cr, _ := s.ReadBacklogs(testCtx(t), []BacklogRead{{Channel: alarm.BroadcastChannel}}, 0)
	var a protocol.Alarm
	if err := json.Unmarshal(cr.Pages[0].Alarms[0].Frame, &a); err != nil || a.Unread != nil {
		t.Fatalf("broadcast alarm %s carries counts", cr.Pages[0].Alarms[0].Frame)
	}
}

func TestStateInvalidChanges(t *testing.T) {
	s, _ := newTestStore(t, realRedis, Config{})
	many := make([]string, protocol.MaxStateIDs+1)
	for i := range many {
		many[i] = "1-1"
	}
	for name, c := range map[string]protocol.StateChange{
		"unknown op":   {Op: "delete", IDs: []string{"1-1"}},
		"neither":      {Op: protocol.OpRead},
		"both":         {Op: protocol.OpRead, IDs: []string{"1-1"}, UpTo: "1-1"},
		"bad id":       {Op: protocol.OpRead, IDs: []string{"x"}},
		"bad up_to":    {Op: protocol.OpRead, UpTo: "1"},
		"too many ids": {Op: protocol.OpRead, IDs: many},
	} {
		if _, err := s.ChangeState(testCtx(t), "user:x", c); !errors.Is(err, ErrInvalidChange) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestStateCountsRandom runs random publishes (inbox and not) and changes
// on a short backlog, so trimming drops alarms in every state, and after
// each step compares the inbox with a model and the counts with the states.
func TestStateCountsRandom(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) { testStateCountsRandom(t, b) })
	}
}

func testStateCountsRandom(t *testing.T, b backend) {
	for seed := range uint64(3) {
		s, _ := newTestStore(t, b, Config{ChannelBacklog: 12})
		rng := rand.New(rand.NewPCG(seed, 12))
		ch := "user:rnd"
		m := newInboxModel(12)
		var alarms []protocol.ID
		ops := []string{protocol.OpSeen, protocol.OpRead, protocol.OpUnread, protocol.OpArchive, protocol.OpUnarchive}
		for step := range 300 {
			switch r := rng.IntN(10); {
			case r < 4:
				channel := ch
				if r == 0 {
					channel = "user:other"
				}
				p := publishN(t, s, 1, channel)[0]
				if channel == ch {
					m.push(p.ID)
					m.bits[p.ID] = 0
					alarms = append(alarms, p.ID)
				}
			case len(alarms) > 0:
				c := protocol.StateChange{Op: ops[rng.IntN(len(ops))]}
				if rng.IntN(4) == 0 {
					c.UpTo = alarms[rng.IntN(len(alarms))].String()
				} else {
					for range 1 + rng.IntN(3) {
						c.IDs = append(c.IDs, alarms[rng.IntN(len(alarms))].String())
					}
				}
				res, err := s.ChangeState(testCtx(t), ch, c)
				if err != nil {
					t.Fatal(err)
				}
				want := m.change(c)
				if res.Changed != len(want) {
					t.Fatalf("seed %d step %d %+v: changed %d, model %v", seed, step, c, res.Changed, want)
				}
			}
			in := checkInbox(t, s, ch, m)
			if !slices.IsSortedFunc(in.Items, func(a, b InboxItem) int { return b.Alarm.ID.Compare(a.Alarm.ID) }) {
				t.Fatal("inbox not newest first")
			}
		}
	}
}

package e2e

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sid is a parsed stream id.
type sid struct{ ms, seq uint64 }

func parseSID(s string) (sid, bool) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return sid{}, false
	}
	ms, err1 := strconv.ParseUint(a, 10, 64)
	seq, err2 := strconv.ParseUint(b, 10, 64)
	return sid{ms, seq}, err1 == nil && err2 == nil
}

func (a sid) compare(b sid) int {
	if c := cmp.Compare(a.ms, b.ms); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (a sid) String() string { return fmt.Sprintf("%d-%d", a.ms, a.seq) }

// errIncomplete: the record is right so far but alarms are still missing.
var errIncomplete = errors.New("incomplete")

// expectedFor returns the accepted alarms on channels with ids in
// partition part, in id order.
func expectedFor(truth []accepted, part int, channels []string) []accepted {
	var out []accepted
	for _, a := range truth {
		if a.part == part && slices.Contains(channels, a.channel) {
			out = append(out, a)
		}
	}
	return out
}

// after returns the index of the first alarm in exp with id > pos.
func after(exp []accepted, pos sid) int {
	i, found := slices.BinarySearchFunc(exp, pos, func(a accepted, p sid) int { return a.id.compare(p) })
	if found {
		i++
	}
	return i
}

// checkRecord walks a delivery record against the truth. Every welcome
// after the first must be "resumed" at exactly the client's position,
// except for statuses in gapOK, which declare a gap: delivery then
// restarts at that welcome's position. Within that, the alarms must be
// exactly the accepted alarms on the client's channels after the start, in
// id order, each once. It returns errIncomplete (wrapped) when the record
// is a correct but short prefix, and the first divergence otherwise.
func checkRecord(conns []connRec, exp []accepted, gapOK ...string) error {
	if len(conns) == 0 {
		return fmt.Errorf("%w: no welcome yet", errIncomplete)
	}
	curStr := ""
	k := 0
	for ci, c := range conns {
		pos, ok := parseSID(c.position)
		if !ok {
			return fmt.Errorf("conn %d (%s): bad welcome position %q", ci, c.node, c.position)
		}
		switch {
		case ci == 0 && c.status != "new":
			return fmt.Errorf("conn 0 (%s): first welcome status %q, want new", c.node, c.status)
		case ci == 0 || slices.Contains(gapOK, c.status):
			curStr, k = c.position, after(exp, pos)
		case c.status != "resumed":
			return fmt.Errorf("conn %d (%s): welcome status %q at position %s, want resumed (client at %s)",
				ci, c.node, c.status, c.position, curStr)
		case c.position != curStr:
			return fmt.Errorf("conn %d (%s): resumed at %s, but the client's position was %s", ci, c.node, c.position, curStr)
		}
		for ai, a := range c.alarms {
			if k >= len(exp) || exp[k].idStr != a.idStr || exp[k].channel != a.channel {
				return divergence(conns, ci, ai, exp, k)
			}
			curStr = a.idStr
			k++
		}
	}
	if k < len(exp) {
		return fmt.Errorf("%w: %d of the expected alarms missing, first %s on %s", errIncomplete, len(exp)-k, exp[k].idStr, exp[k].channel)
	}
	return nil
}

// divergence describes the first wrong alarm, with context on both sides.
func divergence(conns []connRec, ci, ai int, exp []accepted, k int) error {
	c := conns[ci]
	got := c.alarms[ai]
	var b strings.Builder
	fmt.Fprintf(&b, "conn %d (node %s, welcome %s at %s, replayed %d, close %d), alarm %d on it: got %s on %s, ",
		ci, c.node, c.status, c.position, c.replayed, c.closeCode, ai, got.idStr, got.channel)
	if k < len(exp) {
		fmt.Fprintf(&b, "want %s on %s (expected index %d of %d)", exp[k].idStr, exp[k].channel, k, len(exp))
	} else {
		fmt.Fprintf(&b, "want nothing more (all %d expected alarms already seen)", len(exp))
	}
	b.WriteString("\n  expected around: ")
	for i := max(0, k-3); i < min(len(exp), k+4); i++ {
		fmt.Fprintf(&b, "%s(%s) ", exp[i].idStr, exp[i].channel)
	}
	b.WriteString("\n  got around:      ")
	for i := max(0, ai-3); i < min(len(c.alarms), ai+4); i++ {
		fmt.Fprintf(&b, "%s(%s) ", c.alarms[i].idStr, c.alarms[i].channel)
	}
	return errors.New(b.String())
}

// stats counts what a record got wrong, for summaries and the naive
// baseline. lost: expected alarms never received (those skipped by a
// declared gap excluded when excludeGaps); dup: receptions beyond the
// first; reordered: alarms received after a higher id on the same
// connection chain; foreign: alarms not expected at all.
type stats struct {
	expected, received, lost, dup, reordered, foreign, gapSkipped int
}

func measure(conns []connRec, exp []accepted, excludeGaps bool) stats {
	var s stats
	if len(conns) == 0 {
		return s
	}
	start, _ := parseSID(conns[0].position)
	want := make(map[string]bool)
	for _, a := range exp[after(exp, start):] {
		want[a.idStr] = true
	}
	seen := make(map[string]int)
	var last sid
	for ci, c := range conns {
		if pos, ok := parseSID(c.position); ok && ci > 0 && c.status != "resumed" && excludeGaps {
			for _, a := range exp[after(exp, last):after(exp, pos)] {
				if want[a.idStr] {
					delete(want, a.idStr)
					s.gapSkipped++
				}
			}
		}
		for _, a := range c.alarms {
			s.received++
			seen[a.idStr]++
			if seen[a.idStr] > 1 {
				s.dup++
			} else if a.id.compare(last) < 0 {
				s.reordered++
			}
			last = maxSID(last, a.id)
		}
		if pos, ok := parseSID(c.position); ok {
			last = maxSID(last, pos)
		}
	}
	s.expected = len(want)
	for id := range want {
		if seen[id] == 0 {
			s.lost++
		}
	}
	for id := range seen {
		if !want[id] && !slices.ContainsFunc(exp, func(a accepted) bool { return a.idStr == id }) {
			s.foreign++
		}
	}
	return s
}

func maxSID(a, b sid) sid {
	if a.compare(b) >= 0 {
		return a
	}
	return b
}

// verifyAll waits (up to limit) until every client's record is complete,
// then reports every client's problems: divergence, missing alarms,
// client-side duplicates, undecodable messages, a failed Run. It returns
// the summed stats.
func verifyAll(t *testing.T, cs []*recClient, truth []accepted, limit time.Duration, gapOK ...string) stats {
	t.Helper()
	deadline := time.Now().Add(limit)
	for _, c := range cs {
		exp := c.expected(truth)
		for time.Now().Before(deadline) {
			conns, _, _ := c.rec.snapshot()
			if err := checkRecord(conns, exp, gapOK...); !errors.Is(err, errIncomplete) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	var total stats
	for _, c := range cs {
		exp := c.expected(truth)
		conns, _, bad := c.rec.snapshot()
		if err := checkRecord(conns, exp, gapOK...); err != nil {
			t.Errorf("client %s (%s): delivery record wrong after %d connections: %v", c.name, strings.Join(c.channels, ","), len(conns), err)
		}
		if d := c.duplicates(); d != 0 {
			t.Errorf("client %s: client dropped %d duplicates", c.name, d)
		}
		if len(bad) > 0 {
			t.Errorf("client %s: %d bad messages, first: %s", c.name, len(bad), bad[0])
		}
		if err := c.err(); err != nil {
			t.Errorf("client %s: Run: %v", c.name, err)
		}
		s := measure(conns, exp, true)
		total.expected += s.expected
		total.received += s.received
		total.lost += s.lost
		total.dup += s.dup
		total.reordered += s.reordered
		total.foreign += s.foreign
		total.gapSkipped += s.gapSkipped
	}
	return total
}

// closeCount sums close codes seen by the clients.
func closeCount(cs []*recClient, code int) int {
	n := 0
	for _, c := range cs {
		_, closes, _ := c.rec.snapshot()
		n += closes[code]
	}
	return n
}

// connCount sums the connections (welcomes) of the clients.
func connCount(cs []*recClient) int {
	n := 0
	for _, c := range cs {
		n += c.rec.welcomes()
	}
	return n
}

// checkPublisher fails the test on background publish errors.
func checkPublisher(t *testing.T, p *loadPublisher) {
	t.Helper()
	errs := p.errors()
	for i, err := range errs {
		if i == 5 {
			t.Errorf("... and %d more publish errors", len(errs)-5)
			break
		}
		t.Errorf("publisher: %v", err)
	}
}

package hub

import (
	"sort"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// window is a ring of the newest alarms in id order plus, per channel, the
// sequence numbers of its entries, so a resume on a personal channel costs
// O(its alarms) and not O(window). It is not safe for concurrent use: the
// Hub's mutex guards it.
type window struct {
	ring    []alarm.Entry // fixed capacity; ring[(head+i)%cap] is the i-th oldest
	head    int
	n       int
	base    uint64              // sequence number of the oldest entry
	evicted protocol.ID         // highest id known to be missing (trimmed or evicted)
	byChan  map[string]*seqList // channel -> sequence numbers, ascending
}

func newWindow(capacity int) *window {
	return &window{ring: make([]alarm.Entry, capacity), byChan: make(map[string]*seqList)}
}

// reset replaces the content with entries (ascending ids, at most the
// capacity's newest kept) and the given evicted id.
func (w *window) reset(entries []alarm.Entry, evicted protocol.ID) {
	clear(w.ring)
	w.head, w.n, w.base = 0, 0, 0
	w.evicted = evicted
	w.byChan = make(map[string]*seqList)
	for _, e := range entries {
		w.push(e)
	}
}

// push appends e (the caller guarantees e.ID is above every held id),
// evicting the oldest entry when full.
func (w *window) push(e alarm.Entry) {
	c := len(w.ring)
	if w.n == c {
		old := w.ring[w.head]
		w.evicted = protocol.MaxID(w.evicted, old.ID)
		if l := w.byChan[old.Channel]; l != nil {
			l.popFront()
			if l.len() == 0 {
				delete(w.byChan, old.Channel)
			}
		}
		w.ring[w.head] = alarm.Entry{}
		w.head = (w.head + 1) % c
		w.n--
		w.base++
	}
	w.ring[(w.head+w.n)%c] = e
	seq := w.base + uint64(w.n)
	w.n++
	l := w.byChan[e.Channel]
	if l == nil {
		l = &seqList{}
		w.byChan[e.Channel] = l
	}
	l.push(seq)
}

func (w *window) at(seq uint64) *alarm.Entry {
	return &w.ring[(w.head+int(seq-w.base))%len(w.ring)]
}

// after returns the entries on any of channels with id > after, ascending.
func (w *window) after(after protocol.ID, channels []string) []alarm.Entry {
	var seqs []uint64
	for _, ch := range channels {
		l := w.byChan[ch]
		if l == nil {
			continue
		}
		s := l.items[l.start:]
		i := sort.Search(len(s), func(i int) bool { return after.Less(w.at(s[i]).ID) })
		seqs = append(seqs, s[i:]...)
	}
	if len(seqs) == 0 {
		return nil
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	out := make([]alarm.Entry, len(seqs))
	for i, s := range seqs {
		out[i] = *w.at(s)
	}
	return out
}

// newest returns the id of the newest entry, or Zero.
func (w *window) newest() protocol.ID {
	if w.n == 0 {
		return protocol.Zero
	}
	return w.at(w.base + uint64(w.n) - 1).ID
}

// seqList is a FIFO of ascending sequence numbers with O(1) amortised
// push and popFront.
type seqList struct {
	items []uint64
	start int
}

func (l *seqList) len() int { return len(l.items) - l.start }

func (l *seqList) push(s uint64) { l.items = append(l.items, s) }

func (l *seqList) popFront() {
	l.start++
	if l.start > 32 && l.start*2 > len(l.items) {
		n := copy(l.items, l.items[l.start:])
		l.items = l.items[:n]
		l.start = 0
	}
}

// all returns a copy of every entry, oldest first.
func (w *window) all() []alarm.Entry {
	out := make([]alarm.Entry, w.n)
	for i := range out {
		out[i] = *w.at(w.base + uint64(i))
	}
	return out
}

package hub

import (
	"encoding/json"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// Resume is what a client asked for in its hello.
type Resume struct {
	// LastID is the parsed last_id; meaningful when HasLastID.
	LastID    protocol.ID
	HasLastID bool
	// Invalid reports a last_id that was given but is not an id.
	Invalid bool
	// Epoch is the client's epoch, "" when not given.
	Epoch string
}

// Welcome is the outcome of Register, as sent to the client.
type Welcome struct {
	Epoch    string
	Position protocol.ID
	Status   protocol.Status
	Replayed int
	// Inbox holds the counts of the connection's inbox, when read.
	Inbox *protocol.Counts
}

// decideResume returns the resume status for r on a node whose log epoch
// is epoch, holds everything up to applied and has lost everything up to
// evicted. Only StatusResumed replays (the alarms after r.LastID).
func decideResume(r Resume, epoch string, applied, evicted protocol.ID) protocol.Status {
	switch {
	case r.Epoch != "" && r.Epoch != epoch:
		return protocol.StatusEpochChanged
	case r.Invalid:
		return protocol.StatusInvalid
	case !r.HasLastID:
		return protocol.StatusNew
	case applied.Less(r.LastID):
		return protocol.StatusEpochChanged
	case r.LastID.Less(evicted):
		return protocol.StatusExpired
	}
	return protocol.StatusResumed
}

// Register decides the resume status for r, registers c and queues the
// welcome and the replay, all under the hub's lock: every alarm applied
// later is queued after the snapshot, so the connection sees each alarm
// once and in id order. A last_id ahead of the applied id must be caught
// up (WaitApplied) before calling Register; if it is still ahead, the
// log diverged and the status is epoch_changed. Register answers from
// the window only: a last_id older than the window is expired here (see
// Resume, which reads further back from Redis).
func (h *Hub) Register(c *Conn, r Resume) Welcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	w, _, _ := h.registerLocked(c, r, false, false)
	return w
}

// registerLocked registers c. When deep is set and r reaches back beyond
// the window, c's queue is held instead (live alarms wait in it) and deep
// is reported: the caller reads the rest and queues the welcome. When hold
// is set, the welcome and the window's replay are returned, not queued,
// and c's queue is held until the caller queues them. Otherwise they are
// queued.
func (h *Hub) registerLocked(c *Conn, r Resume, deep, hold bool) (Welcome, []alarm.Entry, bool) {
	w := Welcome{Epoch: h.epoch, Position: h.applied}
	w.Status = decideResume(r, h.epoch, h.applied, h.win.evicted)
	deep = deep && w.Status == protocol.StatusExpired
	if deep || hold {
		c.Queue.hold()
	}
	h.conns[c] = struct{}{}
	for _, ch := range c.Channels {
		s := h.subs[ch]
		if s == nil {
			s = make(map[*Conn]struct{})
			h.subs[ch] = s
		}
		s[c] = struct{}{}
	}
	h.setGaugesLocked()
	if deep {
		return w, nil, true
	}
	var replay []alarm.Entry
	if w.Status == protocol.StatusResumed {
		w.Position = r.LastID
		replay = h.win.after(r.LastID, c.Channels)
		w.Replayed = len(replay)
	}
	if r.HasLastID && (w.Status == protocol.StatusResumed || w.Status == protocol.StatusExpired) {
		h.m.ResumeSource.WithLabelValues("window").Inc()
	}
	if !hold {
		h.queueWelcome(c, w, replay)
	}
	return w, replay, false
}

// queueWelcome puts the welcome and the replay at the head of c's queue
// and counts the outcome.
func (h *Hub) queueWelcome(c *Conn, w Welcome, replay []alarm.Entry) {
	msgs := make([][]byte, 0, 1+len(replay))
	msgs = append(msgs, h.encodeWelcome(c, w))
	for _, e := range replay {
		msgs = append(msgs, e.Frame)
	}
	c.Queue.release(msgs)
	h.m.ResumeStatus.WithLabelValues(string(w.Status)).Inc()
	h.m.Replayed.Add(float64(w.Replayed))
}

func (h *Hub) encodeWelcome(c *Conn, w Welcome) []byte {
	b, err := json.Marshal(protocol.Welcome{
		Type: protocol.TypeWelcome, Node: h.cfg.NodeID, Epoch: w.Epoch, Channels: c.Channels,
		Position: w.Position.String(), Resume: protocol.Resume{Status: w.Status, Replayed: w.Replayed},
		Inbox: w.Inbox,
	})
	if err != nil { // cannot happen: every field is a plain string or int
		h.log.Error("hub: encode welcome", "err", err)
	}
	return b
}

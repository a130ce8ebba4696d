package hub

import (
	"encoding/json"

	"github.com/alarmgate/alarmgate/internal/alarm"
)

// Resume is what a client asked for in its hello.
type Resume struct {
	// LastID is the parsed last_id; meaningful when HasLastID.
	LastID    alarm.ID
	HasLastID bool
	// Invalid reports a last_id that was given but is not an id.
	Invalid bool
	// Epoch is the client's epoch, "" when not given.
	Epoch string
}

// Welcome is the outcome of Register, as sent to the client.
type Welcome struct {
	Epoch    string
	Position alarm.ID
	Status   string
	Replayed int
}

type welcomeMsg struct {
	Type     string       `json:"type"`
	Node     string       `json:"node"`
	Epoch    string       `json:"epoch"`
	Channels []string     `json:"channels"`
	Position string       `json:"position"`
	Resume   resumeStatus `json:"resume"`
}

type resumeStatus struct {
	Status   string `json:"status"`
	Replayed int    `json:"replayed"`
}

// Register decides the resume status for r, registers c and queues the
// welcome and the replay, all under the hub's lock: every alarm applied
// later is queued after the snapshot, so the connection sees each alarm
// once and in id order. A last_id ahead of the applied id must be caught
// up (WaitApplied) before calling Register; if it is still ahead, the
// history diverged and the status is epoch_changed.
func (h *Hub) Register(c *Conn, r Resume) Welcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	w := Welcome{Epoch: h.epoch, Position: h.applied}
	var replay []alarm.Entry
	switch {
	case r.Epoch != "" && r.Epoch != h.epoch:
		w.Status = StatusEpochChanged
	case r.Invalid:
		w.Status = StatusInvalid
	case !r.HasLastID:
		w.Status = StatusNew
	case h.applied.Less(r.LastID):
		w.Status = StatusEpochChanged
	case r.LastID.Less(h.win.evicted):
		w.Status = StatusExpired
	default:
		w.Status = StatusResumed
		w.Position = r.LastID
		replay = h.win.after(r.LastID, c.Channels)
		w.Replayed = len(replay)
	}
	msgs := make([][]byte, 0, 1+len(replay))
	msgs = append(msgs, h.encodeWelcome(c, w))
	for _, e := range replay {
		msgs = append(msgs, e.Frame)
	}
	c.Queue.pushAll(msgs)
	h.conns[c] = struct{}{}
	for _, ch := range c.Channels {
		s := h.subs[ch]
		if s == nil {
			s = make(map[*Conn]struct{})
			h.subs[ch] = s
		}
		s[c] = struct{}{}
	}
	h.m.Connections.Set(float64(len(h.conns)))
	h.m.ResumeStatus.WithLabelValues(w.Status).Inc()
	h.m.Replayed.Add(float64(w.Replayed))
	return w
}

func (h *Hub) encodeWelcome(c *Conn, w Welcome) []byte {
	b, err := json.Marshal(welcomeMsg{
		Type: "welcome", Node: h.cfg.NodeID, Epoch: w.Epoch, Channels: c.Channels,
		Position: w.Position.String(), Resume: resumeStatus{Status: w.Status, Replayed: w.Replayed},
	})
	if err != nil { // cannot happen: every field is a plain string or int
		h.log.Error("hub: encode welcome", "err", err)
	}
	return b
}

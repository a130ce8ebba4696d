package hub

import (
	"context"
	"errors"
	"fmt"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

// Backfill reads the alarms a resume missed beyond the window from the
// channel backlogs kept in Redis. *stream.BacklogReader implements it.
type Backfill interface {
	// ReadAfter returns every retained alarm on channels with id > after,
	// in id order, the epoch current at the read, and whether the
	// backlogs reach back to after.
	ReadAfter(ctx context.Context, channels []string, after protocol.ID) (epoch string, alarms []alarm.Entry, complete bool, err error)
}

// InboxCounter is implemented by a Backfill that also reads inbox counts
// (*stream.BacklogReader): Resume then puts the counts of the
// connection's Inbox channel in its welcome.
type InboxCounter interface {
	// Counts returns the counts of an inbox channel; ok is false when the
	// channel keeps no inbox state.
	Counts(ctx context.Context, channel string) (c protocol.Counts, ok bool, err error)
}

// ErrEpochChanged reports that the epoch changed while a resume was read:
// the connection must start again (the hub closes it with 1012 as part of
// the reset, or the caller does).
var ErrEpochChanged = errors.New("hub: epoch changed during the resume")

// Resume is Register, reaching further back than the window: a last_id
// older than the window is answered from the channels' backlogs in Redis
// (backfill; nil answers expired as Register does). Until that read returns,
// the connection is registered with its queue held, so live alarms wait
// behind the replay: nothing is missed or repeated at the hand-over. On an
// error the connection is unregistered and must be closed by the caller
// (1013, or 1012 for ErrEpochChanged).
//
// When backfill is an InboxCounter and c has an Inbox, the welcome carries the
// inbox counts read after registration (a read the counter shares with
// other connections' welcomes, even on the window path; a failed read
// leaves them out): every change after that read reaches c as an alarm or a
// state event carrying newer counts, so the last counts c received are
// always the current ones.
func (h *Hub) Resume(ctx context.Context, c *Conn, r Resume, backfill Backfill) (Welcome, error) {
	counter, _ := backfill.(InboxCounter)
	if c.Inbox == "" {
		counter = nil
	}
	h.mu.Lock()
	w, replay, deep := h.registerLocked(c, r, backfill != nil, counter != nil)
	h.mu.Unlock()
	if !deep && counter == nil {
		return w, nil
	}
	var counts countsRead
	var err error
	if deep && counter != nil {
		// Both reads at once: each waits for a turn of the reader (they
		// most likely share one), so the welcome waits for one turn, not
		// two in a row. Resume owns the goroutine and waits for it.
		got := make(chan countsRead, 1)
		go func() { got <- readCounts(ctx, counter, c.Inbox) }()
		w, replay, err = h.readDeep(ctx, c, r, backfill, w)
		counts = <-got
	} else if deep {
		w, replay, err = h.readDeep(ctx, c, r, backfill, w)
	} else {
		counts = readCounts(ctx, counter, c.Inbox)
	}
	if err == nil && counter != nil {
		// A failed read leaves the counts out rather than failing a
		// resume the window could answer: the next alarm or state event
		// of the inbox carries them.
		if counts.err != nil {
			h.log.Warn("hub: reading inbox counts failed; welcome without them", "err", counts.err)
		} else if counts.ok {
			w.Inbox = &counts.c
		}
	}
	if err != nil {
		h.Unregister(c)
		return w, err
	}
	h.queueWelcome(c, w, replay)
	return w, nil
}

// countsRead is what readCounts read.
type countsRead struct {
	c   protocol.Counts
	ok  bool
	err error
}

// readCounts reads the counts of inbox for a welcome.
func readCounts(ctx context.Context, counter InboxCounter, inbox string) countsRead {
	c, ok, err := counter.Counts(ctx, inbox)
	return countsRead{c, ok, err}
}

// readDeep reads the replay of a resume older than the window from
// backfill.
func (h *Hub) readDeep(ctx context.Context, c *Conn, r Resume, backfill Backfill, w Welcome) (Welcome, []alarm.Entry, error) {
	h.m.ResumeSource.WithLabelValues("redis").Inc()
	epoch, alarms, complete, err := backfill.ReadAfter(ctx, c.Channels, r.LastID)
	if err == nil && epoch != w.Epoch {
		err = fmt.Errorf("%w: read %q, registered in %q", ErrEpochChanged, epoch, w.Epoch)
	}
	if err != nil {
		return w, nil, err
	}
	var replay []alarm.Entry
	if complete || r.LastID.IsZero() { // 0-0 asks for whatever is retained
		// Alarms above the applied id at registration reach the queue live.
		at := w.Position
		w.Status, w.Position = protocol.StatusResumed, r.LastID
		for _, e := range alarms {
			if r.LastID.Less(e.ID) && !at.Less(e.ID) {
				replay = append(replay, e)
			}
		}
		w.Replayed = len(replay)
	}
	return w, replay, nil
}

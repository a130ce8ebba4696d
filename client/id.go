package client

import "strconv"

// streamID is an alarm id "<ms>-<seq>" (a Redis Stream entry id). It is a
// private copy of the server's type: ids are totally ordered by ms, then seq.
type streamID struct {
	ms, seq uint64
}

// parseID parses "<ms>-<seq>", two unsigned decimal integers, strictly.
func parseID(s string) (streamID, bool) {
	dash := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '-' && dash < 0:
			dash = i
		case c < '0' || c > '9':
			return streamID{}, false
		}
	}
	if dash <= 0 || dash == len(s)-1 {
		return streamID{}, false
	}
	ms, err := strconv.ParseUint(s[:dash], 10, 64)
	if err != nil {
		return streamID{}, false
	}
	seq, err := strconv.ParseUint(s[dash+1:], 10, 64)
	if err != nil {
		return streamID{}, false
	}
	return streamID{ms: ms, seq: seq}, true
}

// compare returns -1, 0 or +1 as id is before, equal to or after o.
func (id streamID) compare(o streamID) int {
	switch {
	case id.ms != o.ms:
		if id.ms < o.ms {
			return -1
		}
		return 1
	case id.seq != o.seq:
		if id.seq < o.seq {
			return -1
		}
		return 1
	}
	return 0
}

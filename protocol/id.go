package protocol

import (
	"errors"
	"strconv"
)

// ErrInvalidID reports a string that is not an id of the form <ms>-<seq>.
var ErrInvalidID = errors.New("protocol: invalid id")

// ID is an alarm id: the Redis Stream entry id "<ms>-<seq>" the alarm was
// stored under. Ids order alarms, by ms, then seq. On the wire an id is a
// JSON string in its text form (String); the zero ID is "0-0", which sorts
// before every alarm. IDs are plain values and safe to copy and compare.
type ID struct {
	MS  uint64
	Seq uint64
}

// Zero is the id before every alarm ("0-0").
var Zero = ID{}

// ParseID parses "<ms>-<seq>", two unsigned decimal integers. It rejects
// signs, spaces, empty parts, overflow and anything else with ErrInvalidID.
func ParseID(s string) (ID, error) {
	if len(s) == 0 || len(s) > 41 {
		return ID{}, ErrInvalidID
	}
	dash := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '-' {
			if dash >= 0 {
				return ID{}, ErrInvalidID
			}
			dash = i
			continue
		}
		if c < '0' || c > '9' {
			return ID{}, ErrInvalidID
		}
	}
	if dash <= 0 || dash == len(s)-1 {
		return ID{}, ErrInvalidID
	}
	ms, err := strconv.ParseUint(s[:dash], 10, 64)
	if err != nil {
		return ID{}, ErrInvalidID
	}
	seq, err := strconv.ParseUint(s[dash+1:], 10, 64)
	if err != nil {
		return ID{}, ErrInvalidID
	}
	return ID{MS: ms, Seq: seq}, nil
}

// MustParseID is ParseID for constants in tests and examples; it panics on
// a malformed id.
func MustParseID(s string) ID {
	id, err := ParseID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// String formats the id as "<ms>-<seq>".
func (id ID) String() string {
	return string(id.AppendTo(nil))
}

// AppendTo appends the id's text form to b without allocating beyond b.
func (id ID) AppendTo(b []byte) []byte {
	b = strconv.AppendUint(b, id.MS, 10)
	b = append(b, '-')
	return strconv.AppendUint(b, id.Seq, 10)
}

// Compare returns -1, 0 or +1 as id is before, equal to or after o.
func (id ID) Compare(o ID) int {
	switch {
	case id.MS < o.MS:
		return -1
	case id.MS > o.MS:
		return 1
	case id.Seq < o.Seq:
		return -1
	case id.Seq > o.Seq:
		return 1
	}
	return 0
}

// Less reports whether id sorts before o.
func (id ID) Less(o ID) bool { return id.Compare(o) < 0 }

// IsZero reports whether id is "0-0".
func (id ID) IsZero() bool { return id == Zero }

// Prev returns the greatest id strictly before id (Zero stays Zero). A
// window whose first retained entry is F knows everything at or below
// F.Prev() may be gone.
func (id ID) Prev() ID {
	switch {
	case id.Seq > 0:
		return ID{MS: id.MS, Seq: id.Seq - 1}
	case id.MS > 0:
		return ID{MS: id.MS - 1, Seq: ^uint64(0)}
	}
	return Zero
}

// MaxID returns the later of a and b.
func MaxID(a, b ID) ID {
	if a.Less(b) {
		return b
	}
	return a
}

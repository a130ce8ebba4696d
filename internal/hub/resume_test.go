package hub

import (
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

func TestDecideResume(t *testing.T) {
	id := protocol.MustParseID
	at := func(s string) Resume { return Resume{LastID: id(s), HasLastID: true} }
	in := func(epoch string, r Resume) Resume { r.Epoch = epoch; return r }
	// The node: epoch "E", everything up to 20-5 applied, up to 10-3 lost.
	const epoch = "E"
	applied, evicted := id("20-5"), id("10-3")
	tests := []struct {
		name             string
		r                Resume
		epoch            string
		applied, evicted protocol.ID
		want             protocol.Status
	}{
		{"no last_id", Resume{}, epoch, applied, evicted, protocol.StatusNew},
		{"no last_id, same epoch", in("E", Resume{}), epoch, applied, evicted, protocol.StatusNew},
		{"no last_id, other epoch", in("X", Resume{}), epoch, applied, evicted, protocol.StatusEpochChanged},
		{"invalid", Resume{Invalid: true}, epoch, applied, evicted, protocol.StatusInvalid},
		{"invalid, same epoch", in("E", Resume{Invalid: true}), epoch, applied, evicted, protocol.StatusInvalid},
		{"invalid, other epoch", in("X", Resume{Invalid: true}), epoch, applied, evicted, protocol.StatusEpochChanged},
		{"other epoch, id in window", in("X", at("15-0")), epoch, applied, evicted, protocol.StatusEpochChanged},
		{"same epoch, id in window", in("E", at("15-0")), epoch, applied, evicted, protocol.StatusResumed},
		{"no epoch, id in window", at("15-0"), epoch, applied, evicted, protocol.StatusResumed},
		{"node without epoch, client epoch", in("E", at("15-0")), "", applied, evicted, protocol.StatusEpochChanged},
		{"last_id == applied", at("20-5"), epoch, applied, evicted, protocol.StatusResumed},
		{"last_id just above applied", at("20-6"), epoch, applied, evicted, protocol.StatusEpochChanged},
		{"last_id above applied by ms", at("21-0"), epoch, applied, evicted, protocol.StatusEpochChanged},
		{"last_id == evicted", at("10-3"), epoch, applied, evicted, protocol.StatusResumed},
		{"last_id just above evicted", at("10-4"), epoch, applied, evicted, protocol.StatusResumed},
		{"last_id just below evicted", at("10-2"), epoch, applied, evicted, protocol.StatusExpired},
		{"last_id below evicted by ms", at("9-18446744073709551615"), epoch, applied, evicted, protocol.StatusExpired},
		{"0-0, evicted 0-0", at("0-0"), epoch, applied, protocol.Zero, protocol.StatusResumed},
		{"0-0, evicted non-zero", at("0-0"), epoch, applied, evicted, protocol.StatusExpired},
		{"0-0, evicted 0-1", at("0-0"), epoch, applied, id("0-1"), protocol.StatusExpired},
		{"0-0 on an empty log", at("0-0"), epoch, protocol.Zero, protocol.Zero, protocol.StatusResumed},
		{"0-1 on an empty log", at("0-1"), epoch, protocol.Zero, protocol.Zero, protocol.StatusEpochChanged},
		{"no last_id on an empty log", Resume{}, "", protocol.Zero, protocol.Zero, protocol.StatusNew},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := decideResume(tt.r, tt.epoch, tt.applied, tt.evicted); got != tt.want {
				t.Errorf("decideResume(%+v, %q, %v, %v) = %s, want %s", tt.r, tt.epoch, tt.applied, tt.evicted, got, tt.want)
			}
		})
	}
}

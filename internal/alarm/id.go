package alarm

import "github.com/alarmgate/alarmgate/protocol"

// The alarm id lives in package protocol. These aliases keep the packages
// that still say alarm.ID (stream, pubsub, node, e2e) compiling until they
// switch; new code uses protocol directly.

// ID is protocol.ID.
type ID = protocol.ID

// Zero is protocol.Zero, the id before every alarm ("0-0").
var Zero = protocol.Zero

// ParseID is protocol.ParseID.
func ParseID(s string) (ID, error) { return protocol.ParseID(s) }

// MustParseID is protocol.MustParseID.
func MustParseID(s string) ID { return protocol.MustParseID(s) }

// Message is protocol.Alarm, the decoded form of an alarm frame.
type Message = protocol.Alarm

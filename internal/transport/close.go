package transport

import (
	"errors"
	"strconv"

	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/protocol"
)

// ResumeClose returns the close code and reason for a failed Resume:
// 1012 when the log epoch changed meanwhile (resume again at once), else
// 1013 (the backlogs could not be read; retry with backoff). The reasons
// are the protocol's ("history changed", "history unavailable").
func ResumeClose(err error) (protocol.CloseCode, string) {
	if errors.Is(err, hub.ErrEpochChanged) {
		return protocol.CloseRestart, "history changed"
	}
	return protocol.CloseTryLater, "history unavailable"
}

// CloseLabel is the label of a close code in the closes metric: the code
// in decimal.
func CloseLabel(code protocol.CloseCode) string { return strconv.Itoa(int(code)) }

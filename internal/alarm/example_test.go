package alarm_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ExampleFrame() {
	tail, err := alarm.EncodeTail("user:42", "order.shipped", json.RawMessage(`{"order": 7}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	frame := alarm.Frame(protocol.MustParseID("1732530000001-0"), tail)
	os.Stdout.Write(frame)
	fmt.Println()
	// Output: {"type":"alarm","id":"1732530000001-0","ts":1732530000001,"channel":"user:42","event":"order.shipped","data":{"order":7}}
}

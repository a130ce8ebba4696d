package alarm_test

import (
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/alarm"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ExampleFrame() {
	tail, err := alarm.EncodeTail("user:42", "order.shipped", json.RawMessage(`{"order": 7}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	frame := alarm.Frame(alarm.MustParseID("1732530000001-0"), tail)
	os.Stdout.Write(frame)
	fmt.Println()
	// Output: {"type":"alarm","id":"1732530000001-0","ts":1732530000001,"channel":"user:42","event":"order.shipped","data":{"order":7}}
}

func ExampleID_Compare() {
	a, _ := alarm.ParseID("1732530000000-9")
	b, _ := alarm.ParseID("1732530000001-0")
	fmt.Println(a.Compare(b), b.Compare(a), a.Compare(a))
	// Output: -1 1 0
}

package protocol_test

import (
	"encoding/json"
	"fmt"

	"github.com/alarmgate/alarmgate/protocol"
)

func ExampleParseID() {
	id, err := protocol.ParseID("1732530000000-3")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(id.MS, id.Seq, id)
	_, err = protocol.ParseID("1732530000000")
	fmt.Println(err)
	// Output:
	// 1732530000000 3 1732530000000-3
	// protocol: invalid id
}

func ExampleID_Compare() {
	a, _ := protocol.ParseID("1732530000000-9")
	b, _ := protocol.ParseID("1732530000001-0")
	fmt.Println(a.Compare(b), b.Compare(a), a.Compare(a))
	// Output: -1 1 0
}

func ExampleWelcome() {
	line := `{"type":"welcome","node":"gw-2","epoch":"e7f","channels":["user:42","broadcast"],` +
		`"position":"1732530000000-3","resume":{"status":"resumed","replayed":2}}`
	var w protocol.Welcome
	if err := json.Unmarshal([]byte(line), &w); err != nil {
		fmt.Println(err)
		return
	}
	pos, err := protocol.ParseID(w.Position)
	fmt.Println(w.Node, w.Channels, pos, err)
	if w.Resume.Status == protocol.StatusResumed {
		fmt.Println("resumed; replayed alarms:", w.Resume.Replayed)
	}
	// Output:
	// gw-2 [user:42 broadcast] 1732530000000-3 <nil>
	// resumed; replayed alarms: 2
}

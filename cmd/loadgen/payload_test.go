package main

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMakeData(t *testing.T) {
	for _, size := range []int{0, 10, 64, 256, 1000} {
		d := makeData(1732530000123456789, 7, size)
		if size >= 64 && len(d) != size {
			t.Errorf("size %d: got %d bytes", size, len(d))
		}
		var v struct {
			T int64  `json:"t"`
			S int    `json:"s"`
			P string `json:"p"`
		}
		if err := json.Unmarshal(d, &v); err != nil || v.T != 1732530000123456789 || v.S != 7 {
			t.Errorf("size %d: %s decodes to %+v, %v", size, d, v, err)
		}
	}
}

// frameFor builds an alarm message the way the gateway does.
func frameFor(id, channel string, data []byte) []byte {
	return []byte(`{"type":"alarm","id":"` + id + `","ts":1732530000001,"channel":"` + channel + `","event":"bench","data":` + string(data) + `}`)
}

func TestParseAlarm(t *testing.T) {
	data := makeData(1732530000123456789, 3, 256)
	tests := []struct {
		name string
		msg  []byte
		want benchAlarm
		ok   bool
	}{
		{"ours", frameFor("1732530000001-4", "room:1", data), benchAlarm{ID: []byte("1732530000001-4"), T: 1732530000123456789, Step: 3}, true},
		{"foreign data", frameFor("5-0", "user:1", []byte(`{"text":"hi"}`)), benchAlarm{ID: []byte("5-0")}, true},
		{"null data", frameFor("5-1", "user:1", []byte(`null`)), benchAlarm{ID: []byte("5-1")}, true},
		{"t without s", frameFor("5-2", "user:1", []byte(`{"t":12}`)), benchAlarm{ID: []byte("5-2")}, true},
		{"welcome", []byte(`{"type":"welcome","node":"a"}`), benchAlarm{}, false},
		{"ping", []byte(`{"type":"ping"}`), benchAlarm{}, false},
		{"alarm without id", []byte(`{"type":"alarm","x":1}`), benchAlarm{}, false},
		{"empty id", []byte(`{"type":"alarm","id":"","ts":1}`), benchAlarm{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseAlarm(tt.msg)
			if ok != tt.ok || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parseAlarm = %+v %v, want %+v %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestBodies(t *testing.T) {
	var one struct {
		Channel, Event string
		Data           json.RawMessage
	}
	if err := json.Unmarshal(publishBody("room:1", makeData(1, 2, 100)), &one); err != nil || one.Channel != "room:1" || one.Event != "bench" {
		t.Errorf("publishBody: %+v %v", one, err)
	}
	var batch struct {
		Alarms []struct{ Channel string } `json:"alarms"`
	}
	b := batchBody([]string{"a", "b", "c"}, [][]byte{[]byte("1"), []byte("2"), []byte("3")})
	if err := json.Unmarshal(b, &batch); err != nil || len(batch.Alarms) != 3 || batch.Alarms[2].Channel != "c" {
		t.Errorf("batchBody: %s: %+v %v", b, batch, err)
	}
}

func TestSplitLines(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"a", []string{"a"}},
		{"a\nb\nc", []string{"a", "b", "c"}},
		{"a\n\nb\n", []string{"a", "b"}},
		{"", nil},
	}
	for _, tt := range tests {
		var got []string
		splitLines([]byte(tt.in), func(m []byte) { got = append(got, string(m)) })
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("splitLines(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestDispatch(t *testing.T) {
	frame := []byte(`{"type":"welcome","node":"n1","epoch":"e","position":"5-0","resume":{"status":"resumed","replayed":2}}` + "\n" +
		string(frameFor("5-1", "user:1", makeData(10, 0, 64))) + "\n" + `{"type":"ping"}` + "\n" + `{"type":"future"}`)
	var w welcome
	var ids []string
	err := dispatch(frame, time.Now(), handler{
		Welcome: func(x welcome, _ time.Time) { w = x },
		Alarm: func(a benchAlarm, _ time.Time) {
			ids = append(ids, string(a.ID))
		},
	})
	if err != nil || w.Node != "n1" || w.Status != "resumed" || w.Replayed != 2 || w.Position != "5-0" {
		t.Errorf("welcome %+v err %v", w, err)
	}
	if !reflect.DeepEqual(ids, []string{"5-1"}) {
		t.Errorf("alarms %v", ids)
	}
	if err := dispatch([]byte(`{"type":"welcome",`), time.Now(), handler{}); err != errBadWelcome {
		t.Errorf("bad welcome: err = %v", err)
	}
}

func TestParseID(t *testing.T) {
	tests := []struct {
		in   string
		want alarmID
		ok   bool
	}{
		{"1732530000000-3", alarmID{1732530000000, 3}, true},
		{"0-0", alarmID{}, true},
		{"-1", alarmID{}, false},
		{"1-", alarmID{}, false},
		{"x-1", alarmID{}, false},
		{"12", alarmID{}, false},
	}
	for _, tt := range tests {
		got, ok := parseID([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseID(%q) = %v %v", tt.in, got, ok)
		}
	}
	a, b := alarmID{5, 1}, alarmID{5, 2}
	if !a.less(b) || b.less(a) || a.compare(b) != -1 || b.compare(a) != 1 || a.compare(a) != 0 || !(alarmID{4, 9}).less(a) {
		t.Error("id order wrong")
	}
}

func ids(ss ...uint64) []alarmID {
	out := make([]alarmID, len(ss))
	for i, s := range ss {
		out[i] = alarmID{MS: 100, Seq: s}
	}
	return out
}

func TestTracker(t *testing.T) {
	tests := []struct {
		name                string
		got                 []alarmID
		complete            bool
		lost, dups, unknown int
	}{
		{"exact", ids(1, 2, 3), true, 0, 0, 0},
		{"missing middle", ids(1, 3), true, 1, 0, 0},
		{"missing end", ids(1, 2), false, 1, 0, 0},
		{"duplicate", ids(1, 2, 2, 3), true, 0, 1, 0},
		{"reordered", ids(1, 3, 2), true, 1, 1, 0},
		{"unexpected then late", ids(1, 2, 5, 3), false, 1, 1, 1},
		{"unexpected between", ids(1, 2, 3, 4), true, 0, 0, 1},
		{"none", nil, false, 3, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tracker{expected: ids(1, 2, 3)}
			complete := false
			for _, id := range tt.got {
				complete = tr.add(id)
			}
			if complete != tt.complete || tr.lost() != tt.lost || tr.dups != tt.dups || tr.unknown != tt.unknown {
				t.Errorf("complete %v lost %d dups %d unknown %d; want %v %d %d %d",
					complete, tr.lost(), tr.dups, tr.unknown, tt.complete, tt.lost, tt.dups, tt.unknown)
			}
		})
	}
}

func FuzzParseAlarm(f *testing.F) {
	f.Add(frameFor("1-2", "room:1", makeData(99, 4, 80)))
	f.Add([]byte(`{"type":"alarm","id":"1-1","data":{"t":99999999999999999999999,"s":1}}`))
	f.Add([]byte(`{"type":"alarm",`))
	f.Fuzz(func(t *testing.T, msg []byte) {
		a, ok := parseAlarm(msg)
		if !ok {
			return
		}
		if len(a.ID) == 0 || strings.Contains(string(a.ID), `"`) {
			t.Errorf("id %q", a.ID)
		}
		if a.T < 0 {
			t.Errorf("negative time %d", a.T)
		}
	})
}

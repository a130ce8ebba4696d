package main

import (
	"encoding/json"
	"testing"
)

func TestPublishBodies(t *testing.T) {
	tests := []struct {
		name         string
		users, per   int
		path         string
		bodies       int
		wantChannels map[string]int // channel -> alarms over all bodies
	}{
		{"one channel, single", 0, 1, "/v1/alarms", 1, map[string]int{"bench:pub": 1}},
		{"one channel, batch", 0, 4, "/v1/alarms/batch", 1, map[string]int{"bench:pub": 4}},
		{"users, single", 3, 1, "/v1/alarms", 3, map[string]int{"user:bench0": 1, "user:bench1": 1, "user:bench2": 1}},
		{"users, batches wrap", 5, 2, "/v1/alarms/batch", 3,
			map[string]int{"user:bench0": 2, "user:bench1": 1, "user:bench2": 1, "user:bench3": 1, "user:bench4": 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &publishOpts{channel: "bench:pub", users: tt.users, size: 64}
			path, bodies := publishBodies(alarmgate{}, o, tt.per)
			if path != tt.path || len(bodies) != tt.bodies {
				t.Fatalf("got %s with %d bodies, want %s with %d", path, len(bodies), tt.path, tt.bodies)
			}
			got := map[string]int{}
			for _, b := range bodies {
				var one struct{ Channel string }
				var batch struct{ Alarms []struct{ Channel string } }
				if tt.per == 1 {
					if err := json.Unmarshal(b, &one); err != nil {
						t.Fatal(err)
					}
					batch.Alarms = append(batch.Alarms, struct{ Channel string }{one.Channel})
				} else if err := json.Unmarshal(b, &batch); err != nil {
					t.Fatal(err)
				}
				for _, a := range batch.Alarms {
					got[a.Channel]++
				}
			}
			if len(got) != len(tt.wantChannels) {
				t.Fatalf("channels %v, want %v", got, tt.wantChannels)
			}
			for ch, n := range tt.wantChannels {
				if got[ch] != n {
					t.Errorf("channel %s: %d alarms, want %d (all: %v)", ch, got[ch], n, got)
				}
			}
		})
	}
}

package defaults

import (
	"testing"
	"time"
)

func TestSet(t *testing.T) {
	tests := []struct {
		name      string
		have, def time.Duration
		want      time.Duration
	}{
		{"zero takes the default", 0, time.Second, time.Second},
		{"set value stays", 2 * time.Second, time.Second, 2 * time.Second},
		{"negative value stays (New validates it)", -1, time.Second, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := tt.have
			Set(&v, tt.def)
			if v != tt.want {
				t.Fatalf("Set(%v, %v) = %v, want %v", tt.have, tt.def, v, tt.want)
			}
		})
	}
	s := ""
	Set(&s, "alarms")
	if s != "alarms" {
		t.Fatalf("string: got %q", s)
	}
}

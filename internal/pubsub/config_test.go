package pubsub

import (
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string // refused fields
	}{
		{Config{NodeID: "n"}, nil},
		{Config{NodeID: "n", TipInterval: time.Millisecond, ProbeTimeout: time.Second, RetrySync: 0}, nil},
		{Config{}, []string{"NodeID"}},
		{Config{NodeID: "n", TipInterval: -1, ProbeTimeout: time.Microsecond, RetrySync: -1},
			[]string{"TipInterval", "ProbeTimeout", "RetrySync"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
	}
}

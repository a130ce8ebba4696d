package ingest

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
		{Config{}, []string{"NodeID"}},
		{Config{NodeID: "n", BatchSize: -1, Parallel: -1, Block: time.Microsecond, ClaimIdle: -1, LeaseTTL: time.Millisecond,
			DeadMaxLen: -1, TrimEvery: -1, StatsEvery: -1},
			[]string{"BatchSize", "Parallel", "Block", "ClaimIdle", "LeaseTTL", "DeadMaxLen", "TrimEvery", "StatsEvery"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
	}
}

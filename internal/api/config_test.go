package api

import (
	"math"
	"testing"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string // refused fields
	}{
		{Config{}, nil},
		{Config{PublishRate: -1}, nil},
		{Config{AllowedOrigins: []string{"app.example.com", "*.example.org"}}, nil},
		{Config{AllowedOrigins: []string{"ok.example.com", "a\\"}}, []string{"AllowedOrigins"}},
		{Config{MaxBodyBytes: -1, MaxBatchBytes: -1, MaxBatch: -1, Timeout: -1, PublishRate: math.NaN(), PublishBurst: -1},
			[]string{"MaxBodyBytes", "MaxBatchBytes", "MaxBatch", "Timeout", "PublishRate", "PublishBurst"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
	}
}

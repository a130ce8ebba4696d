package sse

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
		{Config{}, nil},
		{Config{TicketTTL: time.Minute, AllowedOrigins: []string{"app.example.com"}}, nil},
		{Config{WriteTimeout: -1, Heartbeat: -1, Retry: -1, CatchUpTimeout: -1, MaxWriteBytes: 1,
			TicketTTL: 10 * time.Millisecond, AllowedOrigins: []string{"a\\"}},
			[]string{"WriteTimeout", "Heartbeat", "Retry", "CatchUpTimeout", "MaxWriteBytes", "TicketTTL", "AllowedOrigins"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
	}
}

package ws

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
		{Config{AllowedOrigins: []string{"*.example.com"}}, nil},
		{Config{HelloTimeout: -time.Second}, []string{"HelloTimeout"}},
		{Config{HelloTimeout: time.Microsecond, WriteTimeout: -1, PingInterval: -1, CatchUpTimeout: -1,
			ReadLimit: 10, MaxFrameBytes: -1, AllowedOrigins: []string{"["}},
			[]string{"HelloTimeout", "WriteTimeout", "PingInterval", "CatchUpTimeout", "ReadLimit", "MaxFrameBytes",
				"AllowedOrigins"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
	}
}

package limit

import (
	"math"
	"testing"

	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestConnConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  ConnConfig
		want []string // refused fields
	}{
		{ConnConfig{}, nil},
		{ConnConfig{MaxConnections: -1, ConnectRate: -1}, nil},
		{ConnConfig{ConnectRate: math.Inf(1), ConnectBurst: -1}, []string{"ConnectRate", "ConnectBurst"}},
		{ConnConfig{ConnectRate: math.NaN()}, []string{"ConnectRate"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
		if _, err := NewConns(tt.cfg, nil, nil); (err == nil) != (tt.want == nil) {
			t.Errorf("NewConns(%+v): %v", tt.cfg, err)
		}
	}
}

func TestUserConfigValidate(t *testing.T) {
	tests := []struct {
		cfg  UserConfig
		want []string // refused fields
	}{
		{UserConfig{}, nil},
		{UserConfig{StateRate: -1, InboxReadRate: -1}, nil},
		{UserConfig{StateRate: math.Inf(1), StateBurst: -1, InboxReadRate: math.NaN(), InboxReadBurst: -1},
			[]string{"StateRate", "StateBurst", "InboxReadRate", "InboxReadBurst"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
		if _, err := NewInbox(tt.cfg, &fakeInbox{}, nil, nil); (err == nil) != (tt.want == nil) {
			t.Errorf("NewInbox(%+v): %v", tt.cfg, err)
		}
	}
}

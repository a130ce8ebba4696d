package stream

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/testutil"
)

func TestNewConfig(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: closedAddr(t)})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(Config{}, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{Prefix: "alarms", MaxLen: 100000, Retention: 24 * time.Hour, IdemTTL: 24 * time.Hour,
		MaxAlarmBytes: 65536, Timeout: 3 * time.Second, PageSize: 1000, ChannelBacklog: 1000,
		InboxRetention: 30 * 24 * time.Hour, StateEvents: 100, ReplicaTimeout: time.Second, Partitions: 1}
	if s.cfg != want {
		t.Fatalf("defaults %+v, want %+v", s.cfg, want)
	}
	if s.StreamKey() != "{alarms}:stream" || s.EpochKey() != "{alarms}:epoch" || s.LiveChannel() != "{alarms}:live" {
		t.Fatalf("names %q %q %q", s.StreamKey(), s.EpochKey(), s.LiveChannel())
	}
	bad := []Config{
		{Prefix: "a b"}, {Prefix: "{x}"}, {Prefix: strings.Repeat("p", 65)}, {Prefix: "a*"},
		{MaxLen: -1}, {Retention: -time.Second}, {Retention: time.Microsecond}, {IdemTTL: -1},
		{IdemTTL: time.Microsecond}, {MaxAlarmBytes: -1}, {Timeout: -1}, {PageSize: -5}, {ChannelBacklog: -1},
		{InboxRetention: -1}, {InboxRetention: time.Microsecond}, {StateEvents: -1},
		{MinReplicas: -1}, {ReplicaTimeout: -1}, {MinReplicas: 1, ReplicaTimeout: 3 * time.Second},
	}
	for _, cfg := range bad {
		if _, err := New(cfg, rdb, nil); err == nil {
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	if _, err := New(Config{}, nil, nil); err == nil {
		t.Error("New with nil client accepted")
	}
	if s, err := New(Config{Prefix: "A.b:c_d-9"}, rdb, nil); err != nil || s.StreamKey() != "{A.b:c_d-9}:stream" {
		t.Errorf("custom prefix: %v", err)
	}
}

// TestConfigValidateNamesFields: Validate reports every refused field,
// each by its Go name.
func TestConfigValidateNamesFields(t *testing.T) {
	err := Config{Prefix: "a b", MaxLen: -1, Timeout: -time.Second, MinReplicas: -1}.Validate()
	var got []string
	for _, e := range defaults.Problems(err) {
		var fe *defaults.FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("%v is not a FieldError", e)
		}
		got = append(got, fe.Field)
	}
	if want := []string{"MaxLen", "Timeout", "MinReplicas", "Prefix"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v (%v)", got, want, err)
	}
	err = Config{MinReplicas: 2, ReplicaTimeout: 5 * time.Second}.Validate()
	if err == nil || !strings.HasPrefix(err.Error(), "ReplicaTimeout: must be below the Redis call timeout 3s") {
		t.Fatalf("err %v", err)
	}
	if err := (Config{MinReplicas: 2}).Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestConfigValidatePartitions: Partitions is 1..MaxPartitions (0 the
// default 1), Partition 0..Partitions-1.
func TestConfigValidatePartitions(t *testing.T) {
	tests := []struct {
		cfg  Config
		want []string // refused fields
	}{
		{Config{}, nil},
		{Config{Partitions: 1}, nil},
		{Config{Partitions: 6, Partition: 5}, nil},
		{Config{Partitions: MaxPartitions, Partition: MaxPartitions - 1}, nil},
		{Config{Partitions: -1}, []string{"Partitions"}},
		{Config{Partitions: MaxPartitions + 1}, []string{"Partitions"}},
		{Config{Partition: -1}, []string{"Partition"}},
		{Config{Partition: 1}, []string{"Partition"}},
		{Config{Partitions: 1, Partition: 1}, []string{"Partition"}},
		{Config{Partitions: 6, Partition: 6}, []string{"Partition"}},
		{Config{Partitions: -2, Partition: -1}, []string{"Partitions", "Partition"}},
		{Config{Partitions: MaxPartitions + 1, Partition: 5000}, []string{"Partitions"}},
	}
	for _, tt := range tests {
		testutil.CheckRefused(t, tt.cfg, tt.want)
	}
}

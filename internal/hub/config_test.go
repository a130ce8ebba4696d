package hub

import (
	"errors"
	"testing"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name  string
		cfg   Config
		field string // the refused field; "" = valid
	}{
		{"defaults", Config{NodeID: "n"}, ""},
		{"set", Config{NodeID: "n", Window: 1, QueueLen: 1}, ""},
		{"no node id", Config{}, "NodeID"},
		{"negative window", Config{NodeID: "n", Window: -1}, "Window"},
		{"negative queue", Config{NodeID: "n", QueueLen: -4}, "QueueLen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if _, nerr := New(tt.cfg, nil, nil); (nerr == nil) != (err == nil) {
				t.Fatalf("New: %v, Validate: %v", nerr, err)
			}
			if tt.field == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var fe *defaults.FieldError
			if !errors.As(err, &fe) || fe.Field != tt.field {
				t.Fatalf("err %v, want a FieldError about %s", err, tt.field)
			}
		})
	}
	err := Config{NodeID: "n", Window: -1}.Validate()
	if err.Error() != "Window: must be at least 1 (got -1)" {
		t.Fatalf("message %q", err)
	}
}

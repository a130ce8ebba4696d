package defaults

import (
	"errors"
	"math"
	"slices"
	"testing"
	"time"
)

func TestChecks(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want string // "" = accepted
	}{
		{"zero is the default", Min("Window", 0, 1), ""},
		{"at least", Min("Window", 1, 1), ""},
		{"below", Min("Window", -1, 1), "Window: must be at least 1 (got -1)"},
		{"duration below", Min("HelloTimeout", -time.Second, time.Millisecond), "HelloTimeout: must be at least 1ms (got -1s)"},
		{"non-negative zero", NonNegative("MinReplicas", 0), ""},
		{"negative", NonNegative("MinReplicas", -2), "MinReplicas: must not be negative (got -2)"},
		{"finite", Finite("Rate", 1.5), ""},
		{"NaN", Finite("Rate", math.NaN()), "Rate: must be a finite number (got NaN)"},
		{"infinite", Finite("Rate", math.Inf(1)), "Rate: must be a finite number (got +Inf)"},
		{"required", Required("NodeID", false), "NodeID: is required"},
		{"patterns", Patterns("Origins", []string{"*.example.com", "a[", ""}),
			"Origins: entry 2 (\"a[\") is not a valid pattern\nOrigins: entry 3 (\"\") is not a valid pattern"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ""
			if tt.err != nil {
				got = tt.err.Error()
			}
			if got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestWithinRenameProblems(t *testing.T) {
	other := errors.New("not a field")
	err := errors.Join(Errorf("Window", "bad"), errors.Join(Errorf("QueueLen", "bad"), other), nil)
	nested := Within("Node", Within("Hub", err))
	if got, want := Fields(nested), []string{"Node.Hub.Window", "Node.Hub.QueueLen"}; !slices.Equal(got, want) {
		t.Fatalf("fields %v, want %v", got, want)
	}
	if ps := Problems(nested); len(ps) != 3 || ps[2] != other {
		t.Fatalf("problems %v", ps)
	}
	if got := Fields(Rename(err, "Window", "Size")); !slices.Equal(got, []string{"Size", "QueueLen"}) {
		t.Fatalf("renamed %v", got)
	}
	if Within("X", nil) != nil || Rename(nil, "a", "b") != nil || Problems(nil) != nil {
		t.Fatal("nil is not kept nil")
	}
}

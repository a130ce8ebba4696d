package testutil

import (
	"slices"
	"testing"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// CheckRefused checks that cfg.Validate refuses exactly the fields want
// (nil: none), as the rows of the packages' Config.Validate tables say.
func CheckRefused(t testing.TB, cfg interface{ Validate() error }, want []string) {
	t.Helper()
	if got := defaults.Fields(cfg.Validate()); !slices.Equal(got, want) {
		t.Errorf("Validate(%+v) refused %v, want %v", cfg, got, want)
	}
}

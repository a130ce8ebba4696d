package testutil

import (
	"testing"
	"time"
)

// WaitFor calls ok every 10ms until it reports true, and fails the test
// naming what it waited for when limit passes first.
func WaitFor(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

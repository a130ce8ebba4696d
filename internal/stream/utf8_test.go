package stream

import (
	"testing"

	"github.com/redis/go-redis/v9"
)

// TestStoredInvalidUTF8Skipped: an entry read back from Redis whose tail is
// not valid UTF-8 (written by an older gateway or by hand) is malformed.
func TestStoredInvalidUTF8Skipped(t *testing.T) {
	tail := ",\"channel\":\"a\",\"event\":\"e\",\"data\":\"caf\xe9\"}"
	if _, ok := toEntry(redis.XMessage{ID: "1-0", Values: map[string]any{"c": "a", "t": tail}}); ok {
		t.Error("toEntry accepted an invalid UTF-8 tail")
	}
	if _, ok := parseBacklogItem("1-0\n"+tail, "a"); ok {
		t.Error("parseBacklogItem accepted an invalid UTF-8 tail")
	}
	good := `,"channel":"a","event":"e","data":"café"}`
	if _, ok := toEntry(redis.XMessage{ID: "1-0", Values: map[string]any{"c": "a", "t": good}}); !ok {
		t.Error("toEntry rejected a valid tail")
	}
}

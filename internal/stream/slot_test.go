package stream

import "testing"

// TestKeySlot checks keySlot against the values of the Cluster
// specification and Redis' documentation of CLUSTER KEYSLOT, and the hash
// tag rules of the specification.
func TestKeySlot(t *testing.T) {
	if got := crc16("123456789"); got != 0x31C3 {
		t.Fatalf("crc16(123456789) = %#x, want 0x31c3", got)
	}
	for _, tt := range []struct {
		key  string
		want int
	}{
		{"foo", 12182},
		{"somekey", 11058},
		{"foo{hash_tag}", 2515},
		{"bar{hash_tag}", 2515},
		{"", 0},
	} {
		if got := keySlot(tt.key); got != tt.want {
			t.Errorf("keySlot(%q) = %d, want %d", tt.key, got, tt.want)
		}
	}
	// The part of each key that is hashed.
	for _, tt := range []struct{ key, hashed string }{
		{"{user1000}.following", "user1000"},
		{"{user1000}.followers", "user1000"},
		{"foo{}{bar}", "foo{}{bar}"}, // an empty tag: the whole key
		{"foo{{bar}}zap", "{bar"},
		{"foo{bar}{zap}", "bar"}, // only the first tag counts
		{"a{b", "a{b"},           // no closing brace: the whole key
		{"a}b{c}", "c"},
		{"{alarms}:stream", "alarms"},
		{"{alarmgate/6/1/3}:ch:user:1", "alarmgate/6/1/3"},
	} {
		if got, want := keySlot(tt.key), int(crc16(tt.hashed))%clusterSlots; got != want {
			t.Errorf("keySlot(%q) = %d, want %d (the slot of %q)", tt.key, got, want, tt.hashed)
		}
	}
}

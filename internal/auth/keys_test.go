package auth

import (
	"errors"
	"testing"
)

func TestNewKeys(t *testing.T) {
	tests := []struct {
		name string
		keys []string
		ok   bool
	}{
		{"nil", nil, false},
		{"empty list", []string{}, false},
		{"empty key", []string{"k1", ""}, false},
		{"one", []string{"k1"}, true},
		{"several", []string{"k1", "k2", "k3"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := NewKeys(tt.keys)
			if tt.ok != (err == nil) {
				t.Fatalf("NewKeys(%q) err = %v, want ok=%v", tt.keys, err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrNoKeys) {
				t.Fatalf("err = %v, want ErrNoKeys", err)
			}
			if err == nil && k == nil {
				t.Fatal("nil Keys without error")
			}
		})
	}
}

func TestKeysCheck(t *testing.T) {
	k, err := NewKeys([]string{"first-key-0123456789", "second-key-0123456789"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		presented string
		want      bool
	}{
		{"first-key-0123456789", true},
		{"second-key-0123456789", true},
		{"", false},
		{"first-key-012345678", false},
		{"first-key-01234567890", false},
		{"FIRST-KEY-0123456789", false},
		{"third-key", false},
	}
	for _, tt := range tests {
		if got := k.Check(tt.presented); got != tt.want {
			t.Errorf("Check(%q) = %v, want %v", tt.presented, got, tt.want)
		}
	}
	var nilKeys *Keys
	if nilKeys.Check("first-key-0123456789") {
		t.Error("nil Keys accepted a key")
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"BEARER abc", "abc", true},
		{"Bearer   abc  ", "abc", true},
		{"Bearer\tabc", "abc", true},
		{"  Bearer abc", "abc", true},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"Bearerabc", "", false},
		{"Basic abc", "", false},
		{"Bearer a b", "", false},
		{"", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		got, ok := BearerToken(tt.header)
		if got != tt.want || ok != tt.ok {
			t.Errorf("BearerToken(%q) = %q, %v; want %q, %v", tt.header, got, ok, tt.want, tt.ok)
		}
	}
}

package auth

import "testing"

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"localhost", true}, {"LocalHost:8080", true}, {"127.0.0.1", true}, {"127.8.9.10:80", true},
		{"::1", true}, {"[::1]", true}, {"[::1]:6060", true},
		{"", false}, {":6060", false}, {"0.0.0.0:8080", false}, {"[::]:80", false},
		{"example.com", false}, {"localhost.example.com", false}, {"10.0.0.1:80", false},
		{"127.0.0.1.nip.io", false},
	}
	for _, tt := range tests {
		if got := IsLoopbackHost(tt.host); got != tt.want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", tt.host, got, tt.want)
		}
	}
}

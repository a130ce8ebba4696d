package stream

import (
	"testing"
)

func TestParseReplication(t *testing.T) {
	tests := []struct {
		name, info string
		want       Replication
		ok         bool
	}{
		{"master, two replicas", "# Replication\r\nrole:master\r\nconnected_slaves:2\r\nslave0:ip=10.0.0.2,port=6379,state=online\r\n",
			Replication{Role: "master", ConnectedReplicas: 2}, true},
		{"replica", "# Replication\r\nrole:slave\r\nmaster_host:10.0.0.1\r\nconnected_slaves:0\r\n",
			Replication{Role: "slave"}, true},
		{"no count", "# Replication\r\nrole:master\r\n", Replication{}, false},
		{"empty", "", Replication{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseReplication(tt.info)
			if (err == nil) != tt.ok || got != tt.want {
				t.Fatalf("got %+v, %v; want %+v, ok=%v", got, err, tt.want, tt.ok)
			}
		})
	}
}

// TestReplicationOnTheTestRedis: the test Redis is a master.
func TestReplicationOnTheTestRedis(t *testing.T) {
	s, _ := newTestStore(t, backends[0], Config{})
	r, err := s.Replication(t.Context())
	if err != nil || r.Role != "master" || r.ConnectedReplicas < 0 {
		t.Fatalf("Replication = %+v, %v; want a master", r, err)
	}
}

package stream

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Replication is what the primary of the store's keys says about itself
// and its replicas (INFO replication).
type Replication struct {
	// Role is "master", or "slave" when the client reached a replica
	// (which refuses every write).
	Role string
	// ConnectedReplicas is the number of replicas connected to it
	// (connected_slaves): the most a publish's WAIT can count.
	ConnectedReplicas int
}

// Replication reads INFO replication from the server that owns the
// store's keys: on a Cluster the master of {prefix}'s slot, the one a
// publish's WAIT runs on.
func (s *Store) Replication(ctx context.Context) (Replication, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	var c redis.Cmdable = s.rdb
	if cc, ok := s.rdb.(*redis.ClusterClient); ok {
		node, err := cc.MasterForKey(ctx, s.keys.stream)
		if err != nil {
			return Replication{}, wrapErr("replication: master of the prefix", err)
		}
		c = node
	}
	info, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return Replication{}, wrapErr("info replication", err)
	}
	return parseReplication(info)
}

// parseReplication reads role and connected_slaves from an INFO reply.
func parseReplication(info string) (Replication, error) {
	var r Replication
	count := ""
	for line := range strings.Lines(info) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "role":
			r.Role = v
		case "connected_slaves":
			count = v
		}
	}
	n, err := strconv.Atoi(count)
	if r.Role == "" || err != nil {
		return Replication{}, fmt.Errorf("stream: info replication: no role and connected_slaves in %q", info)
	}
	r.ConnectedReplicas = n
	return r, nil
}

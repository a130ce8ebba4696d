// Package hub owns a node's in-memory state: the window of recent alarms
// in id order (with a per-channel index), the applied position, the epoch,
// and the registry of local connections with their bounded queues. It is
// where resume snapshots and live fan-out meet under one lock.
package hub

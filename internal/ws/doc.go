// Package ws owns WebSocket sessions: the hello and its deadline, token
// checks, resume through the hub, the per-connection writer that drains
// the bounded queue in coalesced frames, pings, and close codes.
package ws

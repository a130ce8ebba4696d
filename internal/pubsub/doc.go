// Package pubsub owns a node's live feed from Redis Pub/Sub: the
// subscription to the live channel and the node's probe channel (Redis,
// subscribe.go), which it keeps alive by recreating it when its own probe
// stops coming back; and the logic over it (feed.go, sync.go) that loads
// the window at start, fills gaps from the stream, applies alarms to the
// hub strictly in id order and detects a lost or rolled-back log. Every
// key and channel name, and every Redis Streams command, is in
// internal/stream.
package pubsub

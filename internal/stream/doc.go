// Package stream owns every Redis Streams command and every key and
// channel name (keys.go): the alarm log with its atomic publish script
// (stream append, trimming, idempotency record and Pub/Sub fan-out in one
// step), range and window reads, the log epoch and its rotation, and the
// per-channel lists. The node's own Pub/Sub subscription and probes live
// in internal/pubsub, which asks this package for the channel names.
package stream

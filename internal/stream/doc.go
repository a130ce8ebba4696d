// Package stream owns every Redis Streams command and every key and
// channel name (keys.go): the alarm log with its atomic publish script
// (stream append, trimming, idempotency record and Pub/Sub fan-out in one
// step), range and window reads, the log epoch and its rotation, the
// per-channel lists, and the ingest stream's consumer group and lease
// (ingestgroup.go, ingestlease.go; internal/ingest is the logic over
// them). The node's own Pub/Sub subscription and probes live in
// internal/pubsub, which asks this package for the channel names.
package stream

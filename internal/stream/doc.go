// Package stream owns the alarm log in Redis: the key layout (keys.go),
// the atomic publish script (stream append, trimming, idempotency record
// and Pub/Sub fan-out in one step), range and window reads, the history
// epoch and its rotation, and a node's live subscription and probes.
package stream

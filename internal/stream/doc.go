// Package stream owns the alarm log in Redis: the atomic publish script
// (stream append, trimming, idempotency record and Pub/Sub fan-out in one
// step), range and window reads, the history epoch and its rotation.
package stream

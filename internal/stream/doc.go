// Package stream owns every Redis Streams command and every key and
// channel name (keys.go): the alarm log with its atomic publish script
// (stream append, trimming, idempotency record and Pub/Sub fan-out in one
// step), range and window reads, the log epoch and its rotation, the
// per-channel lists, and the ingest stream's consumer group and lease
// (ingestgroup.go, ingestlease.go; internal/ingest is the logic over
// them). The node's own Pub/Sub subscription and probes live in
// internal/pubsub, which asks this package for the channel names.
//
// A Store is one partition of a deployment's log (partition.go). A
// deployment of P partitions has P Stores, and one Router over them
// (router.go) through which the API, the inbox limiter and the ingest
// consumers reach them: an inbox channel's (user:<sub>) calls go to its
// partition; a shared channel's alarms are appended to every partition
// concurrently (answered with partition 0's id and epoch, or the first
// failing partition's error), and its listing is partition 0's. A batch
// is split by partition and its sub-batches run concurrently. With one
// partition the Router is its Store, call for call.
package stream

// Package testutil holds the helpers that tests of several packages
// share: polling for a condition, reading a counter, a unique Redis key
// prefix whose keys are deleted at cleanup, and a one-node Redis Cluster.
// It is imported by tests only. It speaks to Redis through testproc's
// plain RESP client, so it depends on no Redis client library and on no
// package of the gateway but testproc.
package testutil

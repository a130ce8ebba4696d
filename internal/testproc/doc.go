// Package testproc starts and stops the OS processes that process-level
// tests and benchmarks run against: redis-server and gateway binaries on
// free loopback ports, each with its output captured for log tails.
//
// It is used by e2e, browsertest and cmd/loadgen. It is not a _test
// package, so it depends on the standard library only and never on
// *testing.T: callers turn its errors into test failures.
//
// RedisAddr names the shared Redis that in-process tests use
// (GATEWAY_TEST_REDIS, default 127.0.0.1:6379).
package testproc

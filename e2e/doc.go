// Package e2e holds the process-level end-to-end tests of the gateway:
// they build the gateway binary, start real redis-server and gateway
// processes, kill and restart them, and check every client's delivery
// record through the public protocol only. See README.md.
package e2e

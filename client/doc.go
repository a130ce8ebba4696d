// Package client is the Go client of the alarm gateway: Client receives
// alarms over WebSocket with reconnects, resume and de-duplication, and
// Publisher publishes and reads alarm history over HTTP (docs/protocol.md, v1).
package client

// Package transport holds what the WebSocket (internal/ws) and
// Server-Sent Events (internal/sse) transports share: resuming a
// connection through the hub (Resumer: the catch-up when a client is
// ahead, the backfill from the channel backlogs in Redis when it is behind the window, the close
// code of a failed resume), the live feed's readiness (Feed), the set of
// open connections a drain closes spread over time (ConnSet, Spread), and
// the small rules both apply alike (the jitter of the first ping or
// heartbeat, the label of a close code).
package transport

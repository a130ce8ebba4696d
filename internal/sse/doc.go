// Package sse serves the alarm stream as Server-Sent Events on /v1/sse,
// with the guarantees of the WebSocket endpoint: the same hub, resume
// statuses, slow-consumer rule and drain. Browsers authenticate with a
// short-lived ticket from POST /v1/sse/ticket (EventSource cannot send an
// Authorization header).
package sse

// Package api owns the HTTP publish API: POST /v1/alarms, POST
// /v1/alarms/batch and GET /v1/alarms, with API-key auth, strict JSON
// request decoding and the error codes of docs/protocol.md.
package api

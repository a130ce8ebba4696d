// Package node assembles one gateway node from its parts (for each
// partition of the deployment a stream store, hub, live feed, pipeliner,
// backlog reader and ingest consumer; the router over the stores; the
// WebSocket and SSE servers, publish API and metrics) behind one HTTP
// handler, and owns its lifecycle: the partition layout check,
// readiness, drain and shutdown.
package node

// Package node assembles one gateway node from its parts (stream store,
// hub, live feed, WebSocket server, publish API, metrics) behind one HTTP
// handler, and owns its lifecycle: readiness, drain and shutdown.
package node

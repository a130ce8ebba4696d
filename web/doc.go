// Package web owns the browser side of the gateway: the dependency-free
// JavaScript client (client.js) and the demo page, embedded in the binary
// and served by Handler.
package web

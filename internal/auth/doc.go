// Package auth owns credentials: publish API keys, checked in constant time,
// and the HS256 JWTs that grant WebSocket clients their channels.
package auth

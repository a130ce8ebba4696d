// Package auth owns credentials: publish API keys, checked in constant time,
// and the JWTs that grant WebSocket clients their channels: HS256 with the
// gateway's secret, and RS256, ES256 or EdDSA from an identity provider
// whose key set (JWKS) is fetched, cached and refreshed here.
package auth

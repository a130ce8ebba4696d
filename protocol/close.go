package protocol

// CloseCode is a WebSocket close code the server sends. Each constant's
// comment says why the server closes and what a client does.
type CloseCode int

// Close codes.
const (
	// CloseNormal: a normal close. A client does nothing.
	CloseNormal CloseCode = 1000
	// CloseRestart: the node is restarting, draining or reset its history.
	// A client reconnects at once (to any node) and resumes.
	CloseRestart CloseCode = 1012
	// CloseTryLater: the node cannot serve now (Redis down, not caught up).
	// A client reconnects with backoff.
	CloseTryLater CloseCode = 1013
	// CloseProtocol: the client broke the protocol (bad hello, bad JSON).
	// A client must not loop: reconnecting would fail the same way.
	CloseProtocol CloseCode = 4000
	// CloseAuth: the token is missing, invalid or expired. A client gets a
	// new token, then reconnects and resumes.
	CloseAuth CloseCode = 4001
	// CloseNoHello: no hello arrived in time. A client reconnects.
	CloseNoHello CloseCode = 4008
	// CloseSlowClient: the client fell too far behind. A client reconnects
	// and resumes; nothing is lost.
	CloseSlowClient CloseCode = 4029
)

// Reconnect reports whether a client reconnects by itself after c: every
// code but CloseNormal and CloseProtocol. Codes the protocol does not
// define (1006 for a lost connection, say) count as reconnect too.
func (c CloseCode) Reconnect() bool {
	return c != CloseNormal && c != CloseProtocol
}

package transport

import (
	"math/rand/v2"
	"time"
)

// Jitter returns d plus a random part of up to a fifth of d: the delay of
// a connection's first ping or heartbeat, so that connections that
// arrived together (a reconnect storm) do not beat in lockstep.
func Jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d/5)+1))
}

package ws

import (
	"net"
	"net/http"
	"time"

	"github.com/alarmgate/alarmgate/internal/limit"
	"github.com/alarmgate/alarmgate/internal/metrics"
)

// admit applies the connection limits before an upgrade: attempts per
// source address (429) and open connections on the node (503), each with
// Retry-After and counted in the Limited metric. When it reports true it
// has taken a slot in open, which ServeHTTP gives back when the
// connection ends.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	if ok, wait := s.connects.Allow(sourceAddr(r.RemoteAddr)); !ok {
		s.m.Limited.WithLabelValues(metrics.LimitConnectRate).Inc()
		refuse(w, http.StatusTooManyRequests, wait, "too many connection attempts from this address")
		return false
	}
	n := s.open.Add(1)
	if s.cfg.MaxConnections >= 0 && n > int64(s.cfg.MaxConnections) {
		s.open.Add(-1)
		s.m.Limited.WithLabelValues(metrics.LimitConnections).Inc()
		refuse(w, http.StatusServiceUnavailable, time.Second, "this node holds its maximum of connections")
		return false
	}
	return true
}

// sourceAddr is the host part of a request's RemoteAddr.
func sourceAddr(remote string) string {
	if host, _, err := net.SplitHostPort(remote); err == nil {
		return host
	}
	return remote
}

// refuse answers a request that is not upgraded, asking the client to wait
// at least wait (rounded up to whole seconds) before it tries again.
func refuse(w http.ResponseWriter, status int, wait time.Duration, msg string) {
	w.Header().Set("Retry-After", limit.RetryAfter(wait))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

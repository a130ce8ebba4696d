package ws

import (
	"net/http"

	"github.com/alarmgate/alarmgate/internal/limit"
)

// transport labels this package's connections in metrics.
const transportLabel = "ws"

// admit applies the node's connection budget before an upgrade: attempts
// per source address (429; limit.Conns.Source: the client behind a
// trusted proxy) and open connections (503), each with Retry-After. When it reports true the connection holds a slot, which
// ServeHTTP gives back when the connection ends.
func (s *Server) admit(w http.ResponseWriter, r *http.Request) bool {
	ref, ok := s.conns.Admit(s.conns.Source(r), transportLabel)
	if !ok {
		w.Header().Set("Retry-After", limit.RetryAfter(ref.Wait))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(ref.Status)
		_, _ = w.Write([]byte(ref.Message + "\n"))
	}
	return ok
}

package auth

import (
	"net"
	"strings"
)

// IsLoopbackHost reports whether host names this machine only: localhost
// (any case) or a loopback IP (127.0.0.0/8, ::1). host may carry a port
// and IPv6 brackets ("[::1]:8080", a request's Host). An empty host (":6060",
// every interface) and 0.0.0.0 are not loopback. It is the one loopback
// check behind every decision that keeps something on this machine: the
// embedded demo's and the admin listener's addresses, /demo/config, and
// plain-http key sets.
func IsLoopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package limit

import (
	"net/http"
	"net/netip"
	"strings"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// Source returns the address a request comes from, as its connection
// counts against the connect rate and as the node logs it: the host of
// r.RemoteAddr (the TCP peer) or, when the peer is one of TrustedProxies,
// the client the proxies forwarded for. That is the right-most address of
// X-Forwarded-For (every such header, in order, as one list) that is not
// a trusted proxy: each proxy appends the address it received the
// connection from, so the entries right of it were written by trusted
// proxies and it is the one the outermost of them saw; entries left of it
// are whatever the client sent and are never believed. When every entry
// is a trusted proxy it is the left-most; an entry that is not an address
// (nor an address with a port) ends the walk at the trusted address right
// of it, so a malformed header never names a source of the client's
// choosing.
func (c *Conns) Source(r *http.Request) string {
	peer := sourceAddr(r.RemoteAddr)
	if len(c.trusted) == 0 {
		return peer
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !c.isTrusted(addr) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var entry string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, entry = list[:j], list[j+1:]
			} else {
				list, entry = "", list
			}
			a, ok := parseHop(strings.TrimSpace(entry))
			if !ok {
				return addr.String()
			}
			addr = a
			if !c.isTrusted(a) {
				return a.String()
			}
		}
	}
	return addr.String()
}

// parseHop parses one X-Forwarded-For entry: an address, or an address
// with a port ("192.0.2.1:4711", "[2001:db8::1]:4711").
func parseHop(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

// isTrusted reports whether a is one of the trusted proxies.
func (c *Conns) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range c.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseProxies parses TrustedProxies: addresses (as one-address
// networks) and networks in CIDR notation. The error is a
// *defaults.FieldError naming the first entry that is neither.
func parseProxies(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		s = strings.TrimSpace(s)
		if a, err := netip.ParseAddr(s); err == nil {
			a = a.Unmap()
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return nil, defaults.Errorf("TrustedProxies", "%q is neither an IP address nor a network in CIDR notation", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

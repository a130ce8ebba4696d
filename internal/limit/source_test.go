package limit

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/defaults"
)

// TestSourceBehindTrustedProxies: the source is the TCP peer unless the
// peer is a trusted proxy; then it is the right-most X-Forwarded-For
// entry that is not one, so a client cannot choose it by sending a header
// of its own.
func TestSourceBehindTrustedProxies(t *testing.T) {
	trusted := []string{"10.0.0.5", "172.28.0.0/24", "fd00::/64"}
	for _, tc := range []struct {
		name    string
		trusted []string
		peer    string
		xff     []string
		want    string
	}{
		{"no trusted proxies: the peer", nil, "10.0.0.5:1000", []string{"203.0.113.7"}, "10.0.0.5"},
		{"untrusted peer: its header is ignored", trusted, "198.51.100.1:1000", []string{"203.0.113.7"}, "198.51.100.1"},
		{"trusted peer, one hop", trusted, "10.0.0.5:1000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"client's own entries are not believed", trusted, "10.0.0.5:1000", []string{"1.2.3.4, 203.0.113.7"}, "203.0.113.7"},
		{"chain of trusted proxies", trusted, "10.0.0.5:1000", []string{"1.2.3.4, 203.0.113.7, 172.28.0.9"}, "203.0.113.7"},
		{"several headers are one list", trusted, "10.0.0.5:1000", []string{"1.2.3.4", "203.0.113.7, 172.28.0.9"}, "203.0.113.7"},
		{"trusted peer without header", trusted, "10.0.0.5:1000", nil, "10.0.0.5"},
		{"every entry trusted: the left-most", trusted, "10.0.0.5:1000", []string{"172.28.0.3, 172.28.0.9"}, "172.28.0.3"},
		{"malformed entry ends at the trusted hop", trusted, "10.0.0.5:1000", []string{"1.2.3.4, bogus, 172.28.0.9"}, "172.28.0.9"},
		{"malformed right-most entry: the peer", trusted, "10.0.0.5:1000", []string{"1.2.3.4, bogus"}, "10.0.0.5"},
		{"entry with a port", trusted, "10.0.0.5:1000", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"IPv6", trusted, "[fd00::1]:1000", []string{"2001:db8::7, fd00::2"}, "2001:db8::7"},
		{"IPv6 entry with a port", trusted, "[fd00::1]:1000", []string{"[2001:db8::7]:4711"}, "2001:db8::7"},
		{"IPv4-mapped peer", trusted, "[::ffff:10.0.0.5]:1000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"empty entries are malformed", trusted, "10.0.0.5:1000", []string{"203.0.113.7, "}, "10.0.0.5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := NewConns(ConnConfig{TrustedProxies: tc.trusted}, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/v1/ws", nil)
			r.RemoteAddr = tc.peer
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := c.Source(r); got != tc.want {
				t.Fatalf("Source = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestConnectRateBehindProxy: behind a trusted proxy each client has its
// own connect rate; a client that rotates the X-Forwarded-For it sends
// still counts as itself.
func TestConnectRateBehindProxy(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	c, _ := newTestConns(t, ConnConfig{ConnectRate: 1, ConnectBurst: 1, TrustedProxies: []string{"172.28.0.10"}}, clk)
	req := func(xff string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/v1/ws", nil)
		r.RemoteAddr = "172.28.0.10:5000"
		r.Header.Set("X-Forwarded-For", xff)
		return r
	}
	for _, client := range []string{"203.0.113.1", "203.0.113.2", "203.0.113.3"} {
		if _, ok := c.Admit(c.Source(req(client)), "ws"); !ok {
			t.Fatalf("%s behind the proxy refused: it shares no budget with the others", client)
		}
	}
	if _, ok := c.Admit(c.Source(req("9.9.9.9, 203.0.113.1")), "ws"); ok {
		t.Fatal("203.0.113.1 got a second attempt by sending a header of its own")
	}
}

// TestTrustedProxiesValidate: an entry that is neither an address nor a
// network is refused, naming the field.
func TestTrustedProxiesValidate(t *testing.T) {
	for _, ok := range [][]string{nil, {"10.0.0.1"}, {"10.0.0.0/8", "fd00::/8", "::1"}} {
		if err := (ConnConfig{TrustedProxies: ok}).Validate(); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, bad := range [][]string{{"lb"}, {"10.0.0.0/33"}, {"10.0.0.1", "10.0.0.300"}, {""}} {
		err := (ConnConfig{TrustedProxies: bad}).Validate()
		var fe *defaults.FieldError
		if !errors.As(err, &fe) || fe.Field != "TrustedProxies" {
			t.Errorf("%v: %v, want a FieldError on TrustedProxies", bad, err)
		}
		if _, err := NewConns(ConnConfig{TrustedProxies: bad}, nil, nil); err == nil {
			t.Errorf("NewConns accepted %v", bad)
		}
	}
}

package node

import (
	"crypto/sha256"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/internal/defaults"
	"github.com/alarmgate/alarmgate/internal/hub"
	"github.com/alarmgate/alarmgate/internal/ingest"
	"github.com/alarmgate/alarmgate/internal/pubsub"
)

// NoDelay, as DrainDelay or CloseSpread, is in effect no delay at all
// (zero takes the default): for a node with no other node to drain to,
// such as the embedded demo.
const NoDelay = time.Nanosecond

// Validate checks every field, those of the packages' Configs included
// (each reported under its path, e.g. "Hub.Window"), and returns one
// *defaults.FieldError per refused field, joined. Zero fields stand for
// their defaults. New calls it; so can a caller that wants every problem
// before it starts anything.
func (c Config) Validate() error {
	nested := c // the packages get the node's NodeID: a missing one is reported once, here
	if nested.NodeID == "" {
		nested.NodeID = "node"
	}
	errs := []error{
		defaults.Required("NodeID", c.NodeID != ""),
		defaults.Rename(auth.VerifierConfig{Secret: c.JWTSecret, JWKS: c.JWKS}.Validate(), "Secret", "JWTSecret"),
		defaults.Required("APIKeys", len(c.APIKeys) > 0),
		defaults.Within("Stream", c.Stream.Validate()),
		defaults.Within("Hub", nested.hub().Validate()),
		defaults.Within("Feed", nested.feed().Validate()),
		defaults.Within("WS", c.WS.Validate()),
		defaults.Within("Conns", c.Conns.Validate()),
		defaults.Within("SSE", c.SSE.Validate()),
		defaults.Within("API", c.API.Validate()),
		defaults.Within("Users", c.Users.Validate()),
		defaults.NonNegative("DrainDelay", c.DrainDelay),
		defaults.NonNegative("CloseSpread", c.CloseSpread),
		defaults.Min("ReadTimeout", c.ReadTimeout, time.Millisecond),
		defaults.Min("IdleTimeout", c.IdleTimeout, time.Millisecond),
	}
	if slices.Contains(c.APIKeys, "") {
		errs = append(errs, defaults.Errorf("APIKeys", "an empty key is not a key"))
	}
	if c.Ingest != nil {
		errs = append(errs, defaults.Within("Ingest", nested.ingest().Validate()))
	}
	return errors.Join(errs...)
}

// hub is the hub's Config, with the node's NodeID.
func (c Config) hub() hub.Config {
	hc := c.Hub
	hc.NodeID = c.NodeID
	return hc
}

// feed is the feed's Config, with the node's NodeID.
func (c Config) feed() pubsub.Config {
	fc := c.Feed
	fc.NodeID = c.NodeID
	return fc
}

// ingest is the ingest consumer's Config (Ingest must be set), with the
// node's NodeID.
func (c Config) ingest() ingest.Config {
	ic := *c.Ingest
	ic.NodeID = c.NodeID
	return ic
}

// ticketSecret is the secret the SSE tickets' key is derived from: the
// JWT secret, or, on a node that verifies only identity-provider tokens
// (JWKS, no secret), a digest of its API keys, which every node of a
// deployment shares as it shares the secret.
func (c Config) ticketSecret() []byte {
	if len(c.JWTSecret) > 0 {
		return c.JWTSecret
	}
	keys := slices.Sorted(slices.Values(c.APIKeys))
	sum := sha256.Sum256([]byte("alarmgate sse tickets from api keys\n" + strings.Join(keys, "\n")))
	return sum[:]
}

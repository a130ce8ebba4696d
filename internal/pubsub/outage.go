package pubsub

import (
	"log/slog"
	"time"
)

// outage follows one facet of the feed's link to Redis for the log: one
// line when it starts failing, one when it works again (saying for how
// long it failed), and a reminder every remind while it keeps failing,
// instead of a line per failed call. Owned by Run's goroutine.
type outage struct {
	lost, still, back string // the three messages
	log               *slog.Logger
	now               func() time.Time
	remind            time.Duration
	// grace is how long failures must last before they are announced:
	// shorter ones are routine (a reconnect) and logged at debug only.
	grace time.Duration
	// quiet, when it reports true, holds the announcement back: the
	// failures have a cause another outage already announced.
	quiet func() bool

	down      bool      // failing since the last success
	announced bool      // lost was logged for this outage
	since     time.Time // first failure of this outage
	said      time.Time // the last line about it
	failures  int       // failures since the last line
}

// failed records a failure.
func (o *outage) failed(err error) {
	now := o.now()
	if !o.down {
		o.down, o.since, o.failures = true, now, 0
	}
	o.failures++
	switch {
	case !o.announced:
		if now.Sub(o.since) < o.grace || (o.quiet != nil && o.quiet()) {
			o.log.Debug(o.lost, "err", err)
			return
		}
		o.log.Warn(o.lost, "err", err)
		o.announced, o.said, o.failures = true, now, 0
	case now.Sub(o.said) >= o.remind:
		o.log.Warn(o.still, "for", now.Sub(o.since).Round(time.Second), "failures", o.failures, "err", err)
		o.said, o.failures = now, 0
	}
}

// ok records a success: an outage that was announced is over.
func (o *outage) ok() {
	if !o.down {
		return
	}
	if o.announced {
		o.log.Info(o.back, "after", o.now().Sub(o.since).Round(time.Millisecond))
	}
	o.down, o.announced = false, false
}

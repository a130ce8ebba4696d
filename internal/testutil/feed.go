package testutil

// ReadyFeed is a live feed (transport.Feed) that is always current: for
// transport tests that need no Redis behind the hub.
type ReadyFeed struct{}

// Ready reports true.
func (ReadyFeed) Ready() bool { return true }

// SyncNow does nothing: the feed is current.
func (ReadyFeed) SyncNow() {}

package api

import (
	"context"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// Store is the alarm log as the API uses it; *stream.Store implements it.
type Store interface {
	// Publish appends one alarm and broadcasts it.
	Publish(ctx context.Context, in stream.PublishInput) (stream.PublishResult, error)
	// PublishBatch publishes several alarms; results and errors are
	// aligned with ins (exactly one of results[i], errs[i] is meaningful).
	PublishBatch(ctx context.Context, ins []stream.PublishInput) ([]stream.PublishResult, []error)
	// ListAlarms returns up to limit retained alarms on channel after an
	// id: the alarm listing.
	ListAlarms(ctx context.Context, channel string, after protocol.ID, limit int) (stream.Listing, error)
}

// The stream's Store is the production implementation.
var _ Store = (*stream.Store)(nil)

package stream

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// streamInfo is what XINFO STREAM says about removals from the stream.
type streamInfo struct {
	exists bool // the stream key exists
	// known: the server reports entries-added (Redis >= 7.0). miniredis and
	// older servers do not; then trimming must be assumed.
	known         bool
	trimmed       bool // entries-added > length: something was trimmed or deleted
	lastGenerated protocol.ID
	first         protocol.ID // oldest retained entry, if haveFirst
	haveFirst     bool
}

// evictedBefore returns the highest id that may be gone given the first
// retained entry first (haveFirst false: the stream holds no entry).
// Redis 7.0 does not move max-deleted-entry-id on XADD MAXLEN ~ trims, so
// removals are detected from entries-added vs length only.
func (i streamInfo) evictedBefore(first protocol.ID, haveFirst bool) protocol.ID {
	switch {
	case !i.exists && haveFirst:
		return first.Prev() // deleted under our feet: nothing older is certain
	case !i.exists:
		return protocol.Zero
	case i.known && !i.trimmed:
		return protocol.Zero
	case haveFirst:
		return first.Prev()
	}
	return i.lastGenerated
}

// infoAndEpoch reads the oldest entry's id (XRANGE - + COUNT 1), XINFO
// STREAM and the epoch in one round trip, in that order.
func (s *Store) infoAndEpoch(ctx context.Context) (streamInfo, string, error) {
	ctx, cancel := s.callCtx(ctx)
	defer cancel()
	pipe := s.rdb.Pipeline()
	fst := pipe.XRangeN(ctx, s.keys.stream, "-", "+", 1)
	xi := pipe.XInfoStream(ctx, s.keys.stream)
	ep := pipe.Get(ctx, s.keys.epoch)
	_, _ = pipe.Exec(ctx) // per-command errors are read below
	epoch, err := readEpoch(ep)
	if err != nil {
		return streamInfo{}, "", wrapErr("load window: epoch", err)
	}
	info, err := parseInfo(xi)
	if err != nil {
		return streamInfo{}, "", wrapErr("load window: xinfo", err)
	}
	msgs, err := fst.Result()
	if err != nil {
		return streamInfo{}, "", wrapErr("load window: first entry", err)
	}
	if len(msgs) > 0 {
		if info.first, err = protocol.ParseID(msgs[0].ID); err != nil {
			return streamInfo{}, "", fmt.Errorf("stream: load window: first entry: stream id %q: %w", msgs[0].ID, err)
		}
		info.haveFirst = true
	}
	return info, epoch, nil
}

func parseInfo(cmd *redis.XInfoStreamCmd) (streamInfo, error) {
	v, err := cmd.Result()
	if err != nil {
		if isNoSuchKey(err) {
			return streamInfo{}, nil
		}
		return streamInfo{}, err
	}
	info := streamInfo{exists: true}
	if id, err := protocol.ParseID(v.LastGeneratedID); err == nil {
		info.lastGenerated = id
	}
	// Redis 7.0 added entries-added, max-deleted-entry-id and
	// recorded-first-entry-id together; max-deleted-entry-id is always
	// present there (at least "0-0"), so its absence means "unknown".
	if v.MaxDeletedEntryID != "" {
		info.known = true
		info.trimmed = v.EntriesAdded > v.Length
	}
	return info, nil
}

func isNoSuchKey(err error) bool {
	var rerr redis.Error
	return err != nil && errors.As(err, &rerr) && strings.Contains(strings.ToLower(rerr.Error()), "no such key")
}

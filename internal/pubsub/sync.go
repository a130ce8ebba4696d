package pubsub

import (
	"context"
	"errors"
	"fmt"

	"github.com/alarmgate/alarmgate/internal/stream"
	"github.com/alarmgate/alarmgate/protocol"
)

// sync compares the stream with the hub and repairs any difference: loads
// the window the first time, backfills a gap, or reloads a log whose
// epoch changed or that rolled back behind the applied id. It records
// whether the node is caught up.
func (f *Feed) sync(ctx context.Context) {
	f.lastSync = f.cfg.Now()
	err := f.syncOnce(ctx)
	f.caughtUp.Store(err == nil)
	switch {
	case err == nil:
		f.redis.ok()
	case errors.Is(err, stream.ErrUnavailable):
		f.redis.failed(err)
	default:
		f.log.Warn("pubsub: sync failed", "err", err)
	}
}

func (f *Feed) syncOnce(ctx context.Context) error {
	if !f.loaded.Load() {
		if err := f.reload(ctx, ""); err != nil {
			return err
		}
		f.loaded.Store(true)
	}
	tctx, cancel := context.WithTimeout(ctx, f.store.Timeout())
	tip, err := f.store.Tip(tctx)
	cancel()
	if err != nil {
		return err // "stream: tip: ..."
	}
	epoch, applied := f.hub.State()
	switch {
	case tip.Epoch != epoch:
		f.log.Warn("pubsub: epoch changed", "from", epoch, "to", tip.Epoch)
		return f.reload(ctx, epoch)
	case tip.Newest.Less(applied):
		f.log.Warn("pubsub: stream rolled back", "newest", tip.Newest, "applied", applied)
		return f.reload(ctx, epoch)
	case applied.Less(tip.Newest):
		err := f.fill(ctx, applied)
		if errors.Is(err, errDiverged) {
			f.log.Warn("pubsub: the log no longer continues from the applied alarm", "applied", applied)
			return f.reload(ctx, epoch)
		}
		return err
	}
	return nil
}

// errDiverged reports that the log no longer continues from the applied id.
var errDiverged = errors.New("pubsub: log diverged")

// reload loads the window and installs it in the hub. lost is the epoch
// whose log is gone ("" at start): it is rotated (compare-and-set, so
// every node lands on the same new epoch) before the load.
func (f *Feed) reload(ctx context.Context, lost string) error {
	ctx, cancel := context.WithTimeout(ctx, 4*f.store.Timeout())
	defer cancel()
	epoch := ""
	if lost != "" {
		e, err := f.store.RotateEpoch(ctx, lost)
		if err != nil {
			return err // "stream: rotate epoch: ..."
		}
		epoch = e
	}
	entries, evicted, tip, err := f.store.LoadWindow(ctx, f.hub.WindowSize())
	if err != nil {
		return err // "stream: load window: ..."
	}
	if tip.Epoch != "" {
		epoch = tip.Epoch
	}
	if epoch == "" {
		if epoch, err = f.store.EnsureEpoch(ctx); err != nil {
			return err // "stream: ensure epoch: ..."
		}
	}
	if before, _ := f.hub.State(); before != "" && before != epoch {
		f.m.EpochRotations.Inc() // rotated here or by another node: counted once per node
	}
	kicked := f.hub.Reset(epoch, entries, evicted)
	f.log.Info("pubsub: window loaded", "epoch", epoch, "alarms", len(entries),
		"evicted", evicted, "kicked", kicked)
	return nil
}

// fill applies everything in the stream after applied, page by page,
// paging on the entries read (alarms or not). It returns errDiverged,
// applying nothing more, when the log does not continue from applied.
func (f *Feed) fill(ctx context.Context, applied protocol.ID) error {
	total := 0
	for {
		rctx, cancel := context.WithTimeout(ctx, f.store.Timeout())
		page, err := f.store.Follow(rctx, applied, f.store.PageSize())
		cancel()
		if err != nil {
			return fmt.Errorf("pubsub: gap fill: %w", err)
		}
		if page.Diverged {
			return errDiverged
		}
		total += f.hub.ApplyBatch(page.Entries)
		if int64(page.Read) < f.store.PageSize() {
			break
		}
		applied = page.Last
	}
	if total > 0 {
		f.m.GapFills.Inc()
		f.m.GapFilled.Add(float64(total))
		f.log.Debug("pubsub: gap filled", "alarms", total)
	}
	return nil
}

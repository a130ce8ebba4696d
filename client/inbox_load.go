package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/alarmgate/alarmgate/protocol"
)

// pageLoad is one load of the first page: the inbox entries received
// since it began, applied again on top of the page when it arrives.
type pageLoad struct {
	cancel context.CancelFunc
	buf    []pageEntry
	acks   uint64 // InboxView.acks when it began: changes acknowledged before are in the page
}

// pageEntry is an alarm or a state event received during a load.
type pageEntry struct {
	alarm *Alarm
	state *State
}

// startLoadLocked starts loading the first page, in place of a load
// under way.
func (v *InboxView) startLoadLocked() {
	if v.load != nil {
		v.load.cancel()
	}
	ctx, cancel := context.WithCancel(v.ctx)
	ld := &pageLoad{cancel: cancel, acks: v.acks}
	v.load = ld
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		defer cancel()
		v.runLoad(ctx, ld)
	}()
}

// bufferLocked keeps e for the load under way. Past maxBuffered entries
// it starts the load again: e is then older than the new page.
func (v *InboxView) bufferLocked(e pageEntry) {
	if len(v.load.buf) >= maxBuffered {
		v.startLoadLocked()
		return
	}
	v.load.buf = append(v.load.buf, e)
}

// runLoad fetches the first page until it arrives, ctx ends or the
// gateway refuses for good, with the Client's backoff between attempts.
func (v *InboxView) runLoad(ctx context.Context, ld *pageLoad) {
	for attempt := 0; ; attempt++ {
		page, err := v.fetchPage(ctx, "")
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			v.finishLoad(ld, page)
			return
		}
		retry := retryable(err)
		v.failLoad(ld, err, retry)
		if !retry {
			return
		}
		delay := backoff(attempt, v.c.cfg.MinBackoff, v.c.cfg.MaxBackoff, rand.Float64())
		if ae := (*APIError)(nil); errors.As(err, &ae) {
			delay = max(delay, ae.RetryAfter)
		}
		if !sleep(ctx, delay) {
			return
		}
	}
}

// retryable reports whether a failed request may succeed later: not
// after a 4xx answer other than 401 (the token may be renewed), 408 and
// 429.
func retryable(err error) bool {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status >= 500 {
		return true
	}
	switch ae.Status {
	case http.StatusUnauthorized, http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	}
	return false
}

// failLoad reports a failed attempt of ld; when it is final the view
// stays as it is and the next welcome loads again.
func (v *InboxView) failLoad(ld *pageLoad, err error, retry bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.load != ld {
		return
	}
	if !retry {
		v.load, v.loaded = nil, false
	}
	v.emitLocked(InboxChange{Kind: ChangeLoadFailed, Counts: v.countsLocked(), Err: err})
}

// finishLoad replaces the items with the first page, then applies the
// entries received meanwhile again: those older than the page's snapshot
// lead back to it, the newer ones beyond it.
func (v *InboxView) finishLoad(ld *pageLoad, page Inbox) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed || v.load != ld {
		return
	}
	v.load = nil
	v.items, v.ids = itemsOf(page.Items)
	v.counts = protocol.Counts{Unread: page.Unread, Unseen: page.Unseen}
	v.next, v.loaded = page.Next, true
	v.gen++
	for _, e := range ld.buf {
		if e.alarm != nil {
			if id, err := protocol.ParseID(e.alarm.ID); err == nil {
				v.applyAlarmLocked(id, *e.alarm)
			}
		} else if id, err := protocol.ParseID(e.state.ID); err == nil {
			v.applyStateLocked(id, *e.state)
		}
	}
	v.trimLocked()
	v.pending = slices.DeleteFunc(v.pending, func(p *pendingChange) bool { return p.acked && p.ack < ld.acks })
	v.emitLocked(InboxChange{Kind: ChangeLoaded, Counts: v.countsLocked()})
}

// itemsOf returns a page's items sorted newest first without duplicates
// or malformed ids, and their ids.
func itemsOf(page []InboxItem) ([]InboxItem, []protocol.ID) {
	type entry struct {
		id protocol.ID
		it InboxItem
	}
	es := make([]entry, 0, len(page))
	for _, it := range page {
		if id, err := protocol.ParseID(it.Alarm.ID); err == nil {
			es = append(es, entry{id, it})
		}
	}
	slices.SortStableFunc(es, func(a, b entry) int { return b.id.Compare(a.id) })
	es = slices.CompactFunc(es, func(a, b entry) bool { return a.id == b.id })
	items, ids := make([]InboxItem, len(es)), make([]protocol.ID, len(es))
	for i, e := range es {
		items[i], ids[i] = e.it, e.id
	}
	return items, ids
}

// LoadMore adds the next older page to Items and reports whether more
// remain. State events received while it loads are applied to the new
// items too. It adds nothing when a reload replaced the items meanwhile
// (call it again) and returns ErrInboxNotLoaded before the first page.
// One LoadMore runs at a time; concurrent calls wait.
func (v *InboxView) LoadMore(ctx context.Context) (more bool, err error) {
	v.moreMu.Lock()
	defer v.moreMu.Unlock()
	v.mu.Lock()
	before, gen, loaded, closed := v.next, v.gen, v.loaded, v.closed
	var events []State
	if loaded && before != "" && !closed {
		v.more = &events
	}
	v.mu.Unlock()
	switch {
	case closed:
		return false, ErrInboxClosed
	case !loaded:
		return false, ErrInboxNotLoaded
	case before == "":
		return false, nil
	}
	page, err := v.fetchPage(ctx, before)
	v.mu.Lock()
	defer v.mu.Unlock()
	v.more = nil
	switch {
	case err != nil:
		return v.next != "", fmt.Errorf("client: inbox: load more: %w", err)
	case v.closed:
		return false, ErrInboxClosed
	case v.gen != gen:
		return v.next != "", nil
	case len(events) >= maxBuffered:
		return true, errors.New("client: inbox: too many state events during LoadMore; call it again")
	}
	items, ids := itemsOf(page.Items)
	for _, s := range events {
		applyToItems(items, ids, s.Op, s.IDs, s.UpTo, nil)
	}
	var added []string
	for i, it := range items {
		if v.insertLocked(ids[i], it) {
			added = append(added, it.Alarm.ID)
		}
	}
	v.next = page.Next
	v.emitLocked(InboxChange{Kind: ChangeMore, IDs: added, Counts: v.countsLocked()})
	return v.next != "", nil
}

// fetchPage reads one page of the user's inbox (before "": the first).
func (v *InboxView) fetchPage(ctx context.Context, before string) (Inbox, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RequestTimeout)
	defer cancel()
	p, err := v.publisher(ctx)
	if err != nil {
		return Inbox{}, err
	}
	q := url.Values{"limit": {strconv.Itoa(v.cfg.PageSize)}}
	if before != "" {
		q.Set("before", before)
	}
	var page Inbox
	_, err = p.do(ctx, http.MethodGet, "/v1/inbox", q, nil, "", &page)
	return page, err
}

// postChange sends a change to POST /v1/inbox/state.
func (v *InboxView) postChange(ctx context.Context, op string, ids []string, upTo string) (StateResult, error) {
	ctx, cancel := context.WithTimeout(ctx, v.cfg.RequestTimeout)
	defer cancel()
	var res StateResult
	p, err := v.publisher(ctx)
	if err != nil {
		return res, err
	}
	_, err = p.do(ctx, http.MethodPost, "/v1/inbox/state", nil, protocol.StateChange{Op: op, IDs: ids, UpTo: upTo}, "", &res)
	return res, err
}

// publisher returns a Publisher that authenticates with the user's token
// at the view's base URL.
func (v *InboxView) publisher(ctx context.Context) (*Publisher, error) {
	token, err := v.cfg.Token(ctx)
	if err != nil {
		return nil, fmt.Errorf("client: token: %w", err)
	}
	base := v.cfg.BaseURL
	if base == "" {
		v.mu.Lock()
		ep := v.endpoint
		v.mu.Unlock()
		if ep == "" {
			ep = v.c.cfg.Endpoints[0]
		}
		if base, err = httpBase(ep); err != nil {
			return nil, err
		}
	}
	return &Publisher{BaseURL: base, APIKey: token, HTTPClient: v.cfg.HTTPClient}, nil
}

// httpBase returns the HTTP address of a WebSocket endpoint: ws becomes
// http, wss https, and the path loses its /v1/ws suffix.
func httpBase(endpoint string) (string, error) {
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", fmt.Errorf("client: endpoint %q: %w", endpoint, err)
	}
	switch u.Scheme {
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	}
	u.Path = strings.TrimRight(strings.TrimSuffix(strings.TrimRight(u.Path, "/"), "/v1/ws"), "/")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

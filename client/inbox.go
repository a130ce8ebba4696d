package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

// Errors of an InboxView.
var (
	// ErrInboxClosed: the InboxView was closed.
	ErrInboxClosed = errors.New("client: inbox view closed")
	// ErrInboxNotLoaded: LoadMore was called before the first page loaded.
	ErrInboxNotLoaded = errors.New("client: inbox not loaded yet")
)

// InboxViewConfig configures an InboxView. Every field has a default.
type InboxViewConfig struct {
	// BaseURL is the HTTP address of a node for GET /v1/inbox and POST
	// /v1/inbox/state (e.g. "https://gw.example.com"). Default: the
	// endpoint of the Client's current connection (or its first endpoint
	// before the first welcome) with ws turned into http, wss into https
	// and the /v1/ws suffix of its path dropped.
	BaseURL string

	// Token returns the user's JWT for those requests. Default: the
	// Client's Config.Token, which the InboxView then calls from its own
	// goroutines as well as Run's: it must be safe for concurrent use.
	Token func(ctx context.Context) (string, error)

	// HTTPClient sends the requests. Default: the Client's
	// Config.HTTPClient, else a client with a 10s timeout.
	HTTPClient *http.Client

	// RequestTimeout bounds each request. Default 10s.
	RequestTimeout time.Duration

	// PageSize is the number of alarms per page (1..1000). Default 50.
	PageSize int

	// MaxItems caps Items: when new alarms push it beyond MaxItems, the
	// oldest items are dropped (LoadMore brings them back). Default 10000.
	MaxItems int

	// ChangeBuffer is the capacity of the Changes channel. Default 64.
	ChangeBuffer int

	// Retries is how many times a change that failed on the network or
	// was answered 429 or 5xx is sent again (after Retry-After, or the
	// Client's backoff) before it is rolled back. Default 3; -1: never.
	Retries int
}

// Defaults of InboxViewConfig.
const (
	DefaultInboxRequestTimeout = 10 * time.Second
	DefaultInboxPageSize       = 50
	DefaultInboxMaxItems       = 10000
	DefaultInboxChangeBuffer   = 64
	DefaultInboxRetries        = 3
)

// maxBuffered bounds the entries an InboxView keeps while a page is
// loading; beyond it a first-page load starts again.
const maxBuffered = 10000

// ChangeKind says what an InboxChange reports.
type ChangeKind string

// Change kinds.
const (
	// ChangeLoaded: the first page replaced Items (at the first welcome,
	// and after every welcome that is not protocol.StatusResumed).
	ChangeLoaded ChangeKind = "loaded"
	// ChangeMore: LoadMore added older items.
	ChangeMore ChangeKind = "more"
	// ChangeAlarm: a new inbox alarm (IDs holds its id).
	ChangeAlarm ChangeKind = "alarm"
	// ChangeEvent: a state event, from any device of the user, this
	// InboxView's own changes included.
	ChangeEvent ChangeKind = "event"
	// ChangeCounts: new counts and nothing else: from a welcome, or from
	// an alarm the view already held (a page and the stream overlap).
	ChangeCounts ChangeKind = "counts"
	// ChangeLocal: a change of this InboxView, shown before the server
	// confirmed it.
	ChangeLocal ChangeKind = "local"
	// ChangeRolledBack: the server refused (or could not be asked) a
	// change of this InboxView; its effect is undone and Err says why.
	ChangeRolledBack ChangeKind = "rolled_back"
	// ChangeLoadFailed: loading the first page failed; Err says why. The
	// InboxView retries with backoff unless the gateway refused for good
	// (a 4xx other than 401, 408 and 429): then the next welcome retries.
	ChangeLoadFailed ChangeKind = "load_failed"
)

// InboxChange is one change of an InboxView: what happened and the
// counts Counts returned right after it.
type InboxChange struct {
	Kind ChangeKind
	// Op is the state op (protocol.OpRead, ...) of ChangeEvent,
	// ChangeLocal and ChangeRolledBack.
	Op string
	// IDs are the alarms concerned: the new alarm (ChangeAlarm), the
	// added ones (ChangeMore), the event's or the change's ids (nil when
	// it names UpTo instead: every alarm at or below it).
	IDs  []string
	UpTo string
	// Counts are what Counts returned right after the change.
	Counts protocol.Counts
	// Err says why, for ChangeRolledBack and ChangeLoadFailed.
	Err error
}

// InboxView is the inbox of a Client's user, kept up to date: the first
// page of GET /v1/inbox (LoadMore adds older ones), with every inbox alarm
// and state event the Client receives, live or replayed, applied in id
// order. Alarms already present (a page and the stream overlap) are
// dropped as duplicates. After a welcome that is not
// protocol.StatusResumed the InboxView reloads the first page by itself;
// entries received while a page loads are applied again on top of it.
//
// Changes (MarkRead, ...) show at once (optimistically) and go to POST
// /v1/inbox/state; the state event they cause confirms them, and a
// refusal undoes them and reports ChangeRolledBack.
//
// Its methods are safe for concurrent use. One mutex guards the state;
// it is held briefly and never across a request, a Handler call or a
// blocking send. The Client's Run goroutine applies what arrives before
// the Handler sees it, so Items and Counts already include an alarm when
// Handler.Alarm runs.
type InboxView struct {
	c       *Client
	cfg     InboxViewConfig
	changes chan InboxChange
	ctx     context.Context // ends at Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // first-page loaders
	moreMu  sync.Mutex     // one LoadMore at a time
	dropped atomic.Int64   // changes dropped from a full channel

	mu       sync.Mutex // guards every field below
	closed   bool
	channel  string          // the user's inbox channel, from the last welcome
	epoch    string          // the last welcome's epoch
	endpoint string          // the endpoint of the last welcome
	last     protocol.ID     // the newest inbox entry applied, or the welcome's position
	items    []InboxItem     // the server's state, newest first
	ids      []protocol.ID   // the ids of items
	counts   protocol.Counts // the last counts received
	next     string          // before of the next page; "" when none
	loaded   bool            // a first page arrived since the last reset
	gen      uint64          // counts first pages, so LoadMore notices a reload
	load     *pageLoad       // the first-page load under way
	more     *[]State        // state events received while LoadMore runs
	pending  []*pendingChange
	acks     uint64 // counts acknowledged changes
}

// NewInboxView attaches an InboxView to c, which must not be running yet
// and must not have another one. It loads the first page at the first
// welcome. Close it when done.
func NewInboxView(c *Client, cfg InboxViewConfig) (*InboxView, error) {
	cfg, err := cfg.withDefaults(c)
	if err != nil {
		return nil, err
	}
	if c.running.Load() {
		return nil, fmt.Errorf("%w: NewInboxView after Run started", ErrInvalidConfig)
	}
	ctx, cancel := context.WithCancel(context.Background())
	v := &InboxView{c: c, cfg: cfg, changes: make(chan InboxChange, cfg.ChangeBuffer), ctx: ctx, cancel: cancel}
	if !c.inbox.CompareAndSwap(nil, v) {
		cancel()
		return nil, fmt.Errorf("%w: the client already has an inbox view", ErrInvalidConfig)
	}
	return v, nil
}

func (cfg InboxViewConfig) withDefaults(c *Client) (InboxViewConfig, error) {
	if cfg.BaseURL != "" {
		if u, err := url.Parse(cfg.BaseURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return cfg, fmt.Errorf("%w: BaseURL %q is not an http(s) URL", ErrInvalidConfig, cfg.BaseURL)
		}
	}
	if cfg.PageSize < 0 || cfg.PageSize > 1000 || cfg.MaxItems < 0 || cfg.ChangeBuffer < 0 || cfg.RequestTimeout < 0 || cfg.Retries < -1 {
		return cfg, fmt.Errorf("%w: negative or out of range inbox view setting", ErrInvalidConfig)
	}
	if cfg.Token == nil {
		cfg.Token = c.cfg.Token
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = c.cfg.HTTPClient
	}
	cfg.RequestTimeout = orDefault(cfg.RequestTimeout, DefaultInboxRequestTimeout)
	cfg.PageSize = orDefault(cfg.PageSize, DefaultInboxPageSize)
	cfg.MaxItems = orDefault(cfg.MaxItems, DefaultInboxMaxItems)
	cfg.ChangeBuffer = orDefault(cfg.ChangeBuffer, DefaultInboxChangeBuffer)
	cfg.Retries = max(orDefault(cfg.Retries, DefaultInboxRetries), 0)
	return cfg, nil
}

// orDefault returns v, or def when v is zero.
func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Close detaches the InboxView from its Client, stops its loads and
// closes Changes. Changes under way return ErrInboxClosed or their
// request's error. Close is idempotent.
func (v *InboxView) Close() {
	v.mu.Lock()
	if v.closed {
		v.mu.Unlock()
		return
	}
	v.closed = true
	v.load = nil
	v.mu.Unlock()
	v.cancel()
	v.wg.Wait()
	v.c.inbox.CompareAndSwap(v, nil)
	close(v.changes)
}

// Changes delivers every change, in order, on a channel of
// InboxViewConfig.ChangeBuffer places. It is never blocked on: when the
// reader falls behind and the channel is full, the oldest change waiting
// is dropped (DroppedChanges counts them) so that the newest always gets
// through. Every change carries the counts after it, and Items is always
// current, so a reader that redraws on each change misses nothing. Close
// closes the channel.
func (v *InboxView) Changes() <-chan InboxChange { return v.changes }

// DroppedChanges returns how many changes were dropped from a full
// Changes channel.
func (v *InboxView) DroppedChanges() int64 { return v.dropped.Load() }

// Items returns the inbox, newest first, with the changes of this
// InboxView that the server has not confirmed yet applied. The slice is
// the caller's.
func (v *InboxView) Items() []InboxItem {
	v.mu.Lock()
	defer v.mu.Unlock()
	items, _ := v.viewLocked()
	return items
}

// Item returns the alarm with id and its state, if the InboxView holds it.
func (v *InboxView) Item(id string) (InboxItem, bool) {
	pid, err := protocol.ParseID(id)
	if err != nil {
		return InboxItem{}, false
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	i, ok := v.find(pid)
	if !ok {
		return InboxItem{}, false
	}
	items, _ := v.viewLocked()
	return items[i], true
}

// Counts returns the unread and unseen counts: the last counts received
// (welcome, inbox alarm, state event or page), with the changes of this
// InboxView that the server has not confirmed yet applied.
func (v *InboxView) Counts() protocol.Counts {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.countsLocked()
}

// Loaded reports whether a first page has arrived (since the last welcome
// that required a reload, if its page arrived).
func (v *InboxView) Loaded() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.loaded && v.load == nil
}

// HasMore reports whether older pages remain for LoadMore.
func (v *InboxView) HasMore() bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.next != ""
}

// emitLocked queues ch on Changes, dropping the oldest queued change when
// the channel is full. Only holders of v.mu send, so at most the reader
// competes.
func (v *InboxView) emitLocked(ch InboxChange) {
	if v.closed {
		return
	}
	for {
		select {
		case v.changes <- ch:
			return
		default:
		}
		select {
		case <-v.changes:
			v.dropped.Add(1)
		default:
		}
	}
}

// find returns the index of the item with id in v.items.
func (v *InboxView) find(id protocol.ID) (int, bool) {
	return slices.BinarySearchFunc(v.ids, id, func(e, t protocol.ID) int { return t.Compare(e) })
}

// insertLocked adds it (with id) at its place unless it is there; it
// reports whether it added it.
func (v *InboxView) insertLocked(id protocol.ID, it InboxItem) bool {
	i, ok := v.find(id)
	if ok {
		return false
	}
	v.items = slices.Insert(v.items, i, it)
	v.ids = slices.Insert(v.ids, i, id)
	return true
}

// trimLocked drops the oldest items beyond MaxItems; LoadMore continues
// from the oldest one kept.
func (v *InboxView) trimLocked() {
	if n := v.cfg.MaxItems; len(v.items) > n {
		v.items, v.ids = v.items[:n], v.ids[:n]
		v.next = v.ids[n-1].String()
	}
}

// inboxChannel returns the user's inbox channel among a welcome's
// channels: the first one, "user:<sub>".
func inboxChannel(channels []string) string {
	if len(channels) > 0 && strings.HasPrefix(channels[0], "user:") {
		return channels[0]
	}
	return ""
}

// onWelcome runs on Run's goroutine for each welcome, before the Handler.
// last is the id after which entries are new.
func (v *InboxView) onWelcome(w Welcome, endpoint string, last protocol.ID) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	before := v.countsLocked()
	v.channel, v.epoch, v.endpoint, v.last = inboxChannel(w.Channels), w.Epoch, endpoint, last
	if w.Inbox != nil {
		v.counts = *w.Inbox
	}
	if w.Status != protocol.StatusResumed || (!v.loaded && v.load == nil) {
		v.startLoadLocked()
	}
	if after := v.countsLocked(); after != before {
		v.emitLocked(InboxChange{Kind: ChangeCounts, Counts: after})
	}
}

// onAlarm runs on Run's goroutine for each new alarm, before the Handler.
func (v *InboxView) onAlarm(a Alarm) {
	id, err := protocol.ParseID(a.ID)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil || v.closed || a.Channel != v.channel || v.channel == "" {
		return
	}
	v.last = id
	if v.load != nil {
		v.bufferLocked(pageEntry{alarm: &a})
	}
	before := v.countsLocked()
	if v.applyAlarmLocked(id, a) {
		v.trimLocked()
		v.emitLocked(InboxChange{Kind: ChangeAlarm, IDs: []string{a.ID}, Counts: v.countsLocked()})
	} else if after := v.countsLocked(); after != before {
		v.emitLocked(InboxChange{Kind: ChangeCounts, Counts: after})
	}
}

// onState runs on Run's goroutine for each new state event, before the
// Handler.
func (v *InboxView) onState(s State) {
	id, err := protocol.ParseID(s.ID)
	v.mu.Lock()
	defer v.mu.Unlock()
	if err != nil || v.closed || s.Channel != v.channel || v.channel == "" {
		return
	}
	v.last = id
	if v.load != nil {
		v.bufferLocked(pageEntry{state: &s})
	}
	if v.more != nil && len(*v.more) < maxBuffered {
		*v.more = append(*v.more, s)
	}
	v.applyStateLocked(id, s)
	v.emitLocked(InboxChange{Kind: ChangeEvent, Op: s.Op, IDs: s.IDs, UpTo: s.UpTo, Counts: v.countsLocked()})
}

// applyAlarmLocked adds an alarm unless present (then it keeps the state
// it has) and takes its counts; it reports whether it added it.
func (v *InboxView) applyAlarmLocked(id protocol.ID, a Alarm) bool {
	if a.Counts != nil {
		v.counts = *a.Counts
	}
	return v.insertLocked(id, InboxItem{Alarm: a})
}

// applyStateLocked applies a state event to the items and takes its
// counts; changes of this InboxView that it confirms are done.
func (v *InboxView) applyStateLocked(id protocol.ID, s State) {
	v.counts = s.Counts
	applyToItems(v.items, v.ids, s.Op, s.IDs, s.UpTo, nil)
	v.pending = slices.DeleteFunc(v.pending, func(p *pendingChange) bool {
		return p.acked && !id.Less(p.event)
	})
}

// applyToItems applies op to the items named by ids, or to every item at
// or below upTo, adding each one's effect on the counts to delta (when
// not nil). ids are sorted newest first and index items.
func applyToItems(items []InboxItem, ids []protocol.ID, op string, names []string, upTo string, delta *protocol.Counts) {
	apply := func(i int) {
		before := countOf(items[i])
		applyOp(op, &items[i])
		if delta != nil {
			after := countOf(items[i])
			delta.Unread += after.Unread - before.Unread
			delta.Unseen += after.Unseen - before.Unseen
		}
	}
	if upTo != "" {
		limit, err := protocol.ParseID(upTo)
		if err != nil {
			return
		}
		start, _ := slices.BinarySearchFunc(ids, limit, func(e, t protocol.ID) int { return t.Compare(e) })
		for i := start; i < len(items); i++ {
			apply(i)
		}
		return
	}
	for _, name := range names {
		id, err := protocol.ParseID(name)
		if err != nil {
			continue
		}
		if i, ok := slices.BinarySearchFunc(ids, id, func(e, t protocol.ID) int { return t.Compare(e) }); ok {
			apply(i)
		}
	}
}

// applyOp applies a state op to one item, as the gateway does.
func applyOp(op string, it *InboxItem) {
	switch op {
	case protocol.OpSeen:
		it.Seen = true
	case protocol.OpRead:
		it.Read, it.Seen = true, true
	case protocol.OpUnread:
		it.Read = false
	case protocol.OpArchive:
		it.Archived = true
	case protocol.OpUnarchive:
		it.Archived = false
	}
}

// countOf is what one item adds to the counts: archived items nothing.
func countOf(it InboxItem) protocol.Counts {
	var c protocol.Counts
	if it.Archived {
		return c
	}
	if !it.Read {
		c.Unread = 1
	}
	if !it.Seen {
		c.Unseen = 1
	}
	return c
}

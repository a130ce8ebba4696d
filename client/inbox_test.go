package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

// await waits for a receive from ch, or for the server's end (a failed
// test), so that scripts never outlive it.
func (fc *fakeConn) await(ch chan struct{}) {
	select {
	case <-ch:
	case <-fc.ctx.Done():
	}
}

// gate is a channel closed once, by open or at the test's end, so that
// handlers waiting on it never outlive a failed test.
type gate struct {
	c    chan struct{}
	once sync.Once
}

func newGate(t *testing.T) *gate {
	g := &gate{c: make(chan struct{})}
	t.Cleanup(g.open)
	return g
}

func (g *gate) open() { g.once.Do(func() { close(g.c) }) }

// inboxWelcome is a welcome with inbox counts.
func inboxWelcome(position string, status protocol.Status, unread, unseen int) string {
	return fmt.Sprintf(`{"type":"welcome","node":"gw-1","epoch":"e1","channels":["user:42","broadcast"],`+
		`"position":%q,"resume":{"status":%q,"replayed":0},"inbox":{"unread":%d,"unseen":%d}}`, position, status, unread, unseen)
}

// inboxAlarm is an alarm on user:42 with the counts after it.
func inboxAlarm(id string, unread, unseen int) string {
	return fmt.Sprintf(`{"type":"alarm","id":%q,"ts":1,"channel":"user:42","event":"e","data":null,"unread":%d,"unseen":%d}`,
		id, unread, unseen)
}

// stateMsg is a state event on user:42.
func stateMsg(id, op string, ids []string, upTo string, unread, unseen int) string {
	b, _ := json.Marshal(protocol.State{Type: protocol.TypeState, ID: id, TS: 1, Channel: "user:42", Op: op,
		IDs: ids, UpTo: upTo, Unread: unread, Unseen: unseen})
	return string(b)
}

// pageItem is one item of a GET /v1/inbox answer.
type pageItem struct {
	id                   string
	seen, read, archived bool
}

// pageBody is a GET /v1/inbox answer.
func pageBody(unread, unseen int, next string, items ...pageItem) string {
	type item struct {
		Alarm    json.RawMessage `json:"alarm"`
		Seen     bool            `json:"seen"`
		Read     bool            `json:"read"`
		Archived bool            `json:"archived"`
	}
	out := struct {
		Epoch  string `json:"epoch"`
		Unread int    `json:"unread"`
		Unseen int    `json:"unseen"`
		Items  []item `json:"items"`
		Next   string `json:"next,omitempty"`
	}{Epoch: "e1", Unread: unread, Unseen: unseen, Items: []item{}, Next: next}
	for _, it := range items {
		out.Items = append(out.Items, item{json.RawMessage(inboxAlarm(it.id, 0, 0)), it.seen, it.read, it.archived})
	}
	b, _ := json.Marshal(out)
	return string(b)
}

// inboxAPI serves GET /v1/inbox with page and POST /v1/inbox/state with
// post (each returns status and body), and checks the token.
type inboxAPI struct {
	t    *testing.T
	page func(r *http.Request) (int, string)
	post func(c protocol.StateChange) (int, string)

	mu    sync.Mutex // guards gets and posts
	gets  []string   // query of each GET
	posts []protocol.StateChange
}

func (a *inboxAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if got := r.Header.Get("Authorization"); got != "Bearer tok" {
		a.t.Errorf("%s %s: Authorization %q", r.Method, r.URL, got)
	}
	if r.URL.Query().Has("user") {
		a.t.Errorf("%s %s: a token request names the user", r.Method, r.URL)
	}
	var status int
	var body string
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/v1/inbox":
		a.mu.Lock()
		a.gets = append(a.gets, r.URL.RawQuery)
		a.mu.Unlock()
		status, body = a.page(r)
	case r.Method == http.MethodPost && r.URL.Path == "/v1/inbox/state":
		var c protocol.StateChange
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &c); err != nil {
			a.t.Errorf("POST body %q: %v", b, err)
		}
		a.mu.Lock()
		a.posts = append(a.posts, c)
		a.mu.Unlock()
		status, body = a.post(c)
	default:
		a.t.Errorf("unexpected %s %s", r.Method, r.URL)
		status, body = http.StatusNotFound, "{}"
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func (a *inboxAPI) getCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.gets)
}

// startView attaches an InboxView to a new client of fs and runs it.
func startView(t *testing.T, fs *fakeServer, cfg InboxViewConfig) (*Client, *InboxView) {
	t.Helper()
	ccfg := testConfig(fs.url)
	ccfg.MinBackoff, ccfg.MaxBackoff = time.Millisecond, 10*time.Millisecond // for the view's retries
	c, err := New(ccfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewInboxView(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	stop := startRun(t, c, Handler{})
	t.Cleanup(func() {
		_ = stop()
		v.Close()
	})
	return c, v
}

// waitChange reads v's changes until one of kind arrives and returns it.
func waitChange(t *testing.T, v *InboxView, kind ChangeKind) InboxChange {
	t.Helper()
	timeout := time.After(waitFor)
	for {
		select {
		case ch := <-v.Changes():
			if ch.Kind == kind {
				return ch
			}
		case <-timeout:
			t.Fatalf("no %s change", kind)
			return InboxChange{}
		}
	}
}

// itemsString renders items as "id:flags" (s seen, r read, a archived).
func itemsString(items []InboxItem) string {
	var parts []string
	for _, it := range items {
		flags := ""
		for _, f := range []struct {
			on bool
			c  string
		}{{it.Seen, "s"}, {it.Read, "r"}, {it.Archived, "a"}} {
			if f.on {
				flags += f.c
			}
		}
		parts = append(parts, it.Alarm.ID+":"+flags)
	}
	return strings.Join(parts, " ")
}

func checkView(t *testing.T, v *InboxView, items string, counts protocol.Counts) {
	t.Helper()
	if got := itemsString(v.Items()); got != items {
		t.Errorf("items = %q, want %q", got, items)
	}
	if got := v.Counts(); got != counts {
		t.Errorf("counts = %+v, want %+v", got, counts)
	}
}

// TestInboxViewLoadLiveAndDuplicates: the first page loads at the
// welcome; alarms received while it loads show at once and are applied
// again on top of it (one it already holds keeps its state); live state
// events apply; duplicates (the client's and the page's) and other
// channels' alarms are dropped.
func TestInboxViewLoadLiveAndDuplicates(t *testing.T) {
	before := goroutines()
	t.Cleanup(func() { verifyNoLeaks(t, before) })
	release, sent := make(chan struct{}), make(chan struct{})
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(inboxWelcome("3-0", protocol.StatusNew, 1, 1))
		fc.send(inboxAlarm("4-0", 1, 1), inboxAlarm("6-0", 2, 2))
		fc.await(sent)
		fc.send(stateMsg("7-0", protocol.OpRead, []string{"6-0"}, "", 1, 1), inboxAlarm("6-0", 9, 9),
			`{"type":"alarm","id":"8-0","ts":8,"channel":"broadcast","event":"b","data":null}`)
		fc.waitClose()
	})
	api := &inboxAPI{t: t, page: func(r *http.Request) (int, string) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
		// The snapshot holds 4-0 (read meanwhile), not 6-0.
		return 200, pageBody(0, 0, "", pageItem{id: "4-0", seen: true, read: true}, pageItem{id: "2-0", seen: true})
	}}
	fs.handleAPI(api)
	c, v := startView(t, fs, InboxViewConfig{})

	waitChange(t, v, ChangeAlarm) // 4-0
	if ch := waitChange(t, v, ChangeAlarm); !slices.Equal(ch.IDs, []string{"6-0"}) {
		t.Fatalf("second alarm change = %+v", ch)
	}
	checkView(t, v, "6-0: 4-0:", protocol.Counts{Unread: 2, Unseen: 2})
	if v.Loaded() {
		t.Error("Loaded before the page arrived")
	}
	close(release)
	ch := waitChange(t, v, ChangeLoaded)
	if ch.Counts != (protocol.Counts{Unread: 2, Unseen: 2}) {
		t.Errorf("loaded counts = %+v, want the last alarm's", ch.Counts)
	}
	checkView(t, v, "6-0: 4-0:sr 2-0:s", protocol.Counts{Unread: 2, Unseen: 2})
	close(sent)
	ch = waitChange(t, v, ChangeEvent)
	if ch.Op != protocol.OpRead || !slices.Equal(ch.IDs, []string{"6-0"}) {
		t.Errorf("event change = %+v", ch)
	}
	checkView(t, v, "6-0:sr 4-0:sr 2-0:s", protocol.Counts{Unread: 1, Unseen: 1})
	waitDuplicates(t, c, 1)
	checkView(t, v, "6-0:sr 4-0:sr 2-0:s", protocol.Counts{Unread: 1, Unseen: 1})
	if !v.Loaded() || v.HasMore() {
		t.Errorf("Loaded %v HasMore %v", v.Loaded(), v.HasMore())
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if !slices.Equal(api.gets, []string{"limit=50"}) {
		t.Errorf("GETs %q", api.gets)
	}
}

// waitDuplicates waits until c dropped n duplicates.
func waitDuplicates(t *testing.T, c *Client, n int64) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for c.Duplicates() < n {
		if time.Now().After(deadline) {
			t.Fatalf("Duplicates = %d, want %d", c.Duplicates(), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestInboxViewReloadsUnlessResumed: a welcome that is not resumed
// (expired) replaces the items with a new first page; a resumed one
// does not reload, and its replay applies.
func TestInboxViewReloadsUnlessResumed(t *testing.T) {
	next := make(chan struct{})
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		switch n {
		case 0:
			fc.send(inboxWelcome("1-0", protocol.StatusNew, 1, 1))
			fc.await(next)
			fc.send(inboxAlarm("2-0", 2, 2))
			fc.await(next)
			fc.close(protocol.CloseRestart, "restart")
		case 1:
			fc.send(inboxWelcome("9-0", protocol.StatusExpired, 1, 0))
			fc.await(next)
			fc.close(protocol.CloseRestart, "restart")
		default:
			fc.send(inboxWelcome("9-0", protocol.StatusResumed, 1, 0),
				stateMsg("10-0", protocol.OpRead, nil, "9-0", 0, 0))
			fc.waitClose()
		}
	})
	pages := []string{
		pageBody(1, 1, "", pageItem{id: "1-0"}),
		pageBody(1, 0, "", pageItem{id: "9-0", seen: true}, pageItem{id: "5-0", seen: true, read: true}),
	}
	api := &inboxAPI{t: t}
	api.page = func(*http.Request) (int, string) {
		if n := api.getCount(); n <= len(pages) {
			return 200, pages[n-1]
		}
		t.Error("a third GET")
		return 500, "{}"
	}
	fs.handleAPI(api)
	_, v := startView(t, fs, InboxViewConfig{})

	waitChange(t, v, ChangeLoaded)
	checkView(t, v, "1-0:", protocol.Counts{Unread: 1, Unseen: 1})
	next <- struct{}{}
	waitChange(t, v, ChangeAlarm)
	checkView(t, v, "2-0: 1-0:", protocol.Counts{Unread: 2, Unseen: 2})
	next <- struct{}{}

	waitChange(t, v, ChangeLoaded) // the expired welcome's reload
	checkView(t, v, "9-0:s 5-0:sr", protocol.Counts{Unread: 1, Unseen: 0})
	next <- struct{}{}

	waitChange(t, v, ChangeEvent) // replayed after the resumed welcome
	checkView(t, v, "9-0:sr 5-0:sr", protocol.Counts{})
	if n := api.getCount(); n != 2 {
		t.Errorf("%d GETs, want 2 (no reload after resumed)", n)
	}
}

// TestInboxViewRollbackOnError: a change shows at once; the gateway's
// refusal undoes it and is reported.
func TestInboxViewRollbackOnError(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(inboxWelcome("2-0", protocol.StatusNew, 2, 2))
		fc.waitClose()
	})
	release := newGate(t)
	api := &inboxAPI{t: t,
		page: func(*http.Request) (int, string) {
			return 200, pageBody(2, 2, "", pageItem{id: "2-0"}, pageItem{id: "1-0"})
		},
		post: func(protocol.StateChange) (int, string) {
			<-release.c
			return 503, `{"error":{"code":"unavailable","message":"redis down"}}`
		},
	}
	fs.handleAPI(api)
	_, v := startView(t, fs, InboxViewConfig{})
	waitChange(t, v, ChangeLoaded)

	errc := make(chan error, 1)
	go func() { errc <- v.MarkRead(context.Background(), "2-0") }()
	ch := waitChange(t, v, ChangeLocal)
	if ch.Op != protocol.OpRead || ch.Counts != (protocol.Counts{Unread: 1, Unseen: 1}) {
		t.Errorf("local change = %+v", ch)
	}
	checkView(t, v, "2-0:sr 1-0:", protocol.Counts{Unread: 1, Unseen: 1})
	release.open()
	err := <-errc
	var apiErr *APIError
	if !errors.As(err, &apiErr) || apiErr.Code != protocol.CodeUnavailable {
		t.Fatalf("MarkRead = %v, want the 503", err)
	}
	ch = waitChange(t, v, ChangeRolledBack)
	if !errors.Is(ch.Err, apiErr) || ch.Counts != (protocol.Counts{Unread: 2, Unseen: 2}) || !slices.Equal(ch.IDs, []string{"2-0"}) {
		t.Errorf("rollback change = %+v", ch)
	}
	checkView(t, v, "2-0: 1-0:", protocol.Counts{Unread: 2, Unseen: 2})
	if n := len(api.posts); n != 1+DefaultInboxRetries {
		t.Errorf("%d POSTs, want the change and %d retries", n, DefaultInboxRetries)
	}
	if err := v.MarkRead(context.Background(), "not-an-id"); err == nil {
		t.Error("MarkRead accepted a malformed id")
	}
}

// TestInboxViewChangeRetriedAndSkipped: a change answered 429 is sent
// again and succeeds; ids already in the state asked for are not sent.
func TestInboxViewChangeRetriedAndSkipped(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(inboxWelcome("2-0", protocol.StatusNew, 1, 1))
		fc.waitClose()
	})
	api := &inboxAPI{t: t,
		page: func(*http.Request) (int, string) {
			return 200, pageBody(1, 1, "", pageItem{id: "2-0"}, pageItem{id: "1-0", seen: true, read: true})
		},
	}
	api.post = func(protocol.StateChange) (int, string) {
		api.mu.Lock()
		n := len(api.posts)
		api.mu.Unlock()
		if n == 1 {
			return 429, `{"error":{"code":"rate_limited","message":"slow down"}}`
		}
		return 200, `{"changed":0,"unread":0,"unseen":0}`
	}
	fs.handleAPI(api)
	_, v := startView(t, fs, InboxViewConfig{})
	waitChange(t, v, ChangeLoaded)

	if err := v.MarkRead(context.Background(), "1-0"); err != nil {
		t.Fatal(err)
	}
	if err := v.MarkRead(context.Background(), "1-0", "2-0", "2-0", "7-0"); err != nil {
		t.Fatal(err)
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if len(api.posts) != 2 || !slices.Equal(api.posts[1].IDs, []string{"2-0", "7-0"}) {
		t.Errorf("posts = %+v, want the unread and the unknown id, twice (429, then 200)", api.posts)
	}
}

// TestInboxViewConfirmedByStateEvent: an accepted change stays shown until
// its state event arrives, which settles it; when the event comes before
// the answer the change is settled at the answer. MarkAllRead reads up
// to the position (state event 5-0, newer than the newest item).
func TestInboxViewConfirmedByStateEvent(t *testing.T) {
	conns := make(chan *fakeConn, 1)
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(inboxWelcome("3-0", protocol.StatusNew, 3, 3))
		conns <- fc
		fc.waitClose()
	})
	var v *InboxView
	api := &inboxAPI{t: t,
		page: func(*http.Request) (int, string) {
			return 200, pageBody(3, 3, "", pageItem{id: "3-0"}, pageItem{id: "2-0"}, pageItem{id: "1-0", archived: true})
		},
	}
	api.post = func(c protocol.StateChange) (int, string) {
		if c.UpTo == "" {
			return 200, `{"id":"5-0","changed":1,"unread":2,"unseen":2}`
		}
		(<-conns).send(stateMsg("6-0", protocol.OpRead, nil, "3-0", 0, 0)) // the newest alarm at or below c.UpTo
		waitLast(t, v, "6-0")
		return 200, `{"id":"6-0","changed":2,"unread":0,"unseen":0}`
	}
	fs.handleAPI(api)
	_, v = startView(t, fs, InboxViewConfig{})
	waitChange(t, v, ChangeLoaded)
	fc := <-conns

	if err := v.MarkRead(context.Background(), "2-0"); err != nil {
		t.Fatal(err)
	}
	checkView(t, v, "3-0: 2-0:sr 1-0:a", protocol.Counts{Unread: 2, Unseen: 2})
	if n := pendingCount(v); n != 1 {
		t.Errorf("%d pending changes before the state event, want 1", n)
	}
	fc.send(stateMsg("5-0", protocol.OpRead, []string{"2-0"}, "", 2, 2))
	waitChange(t, v, ChangeEvent)
	checkView(t, v, "3-0: 2-0:sr 1-0:a", protocol.Counts{Unread: 2, Unseen: 2})
	if n := pendingCount(v); n != 0 {
		t.Errorf("%d pending changes after the state event, want 0", n)
	}

	conns <- fc
	if err := v.MarkAllRead(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := pendingCount(v); n != 0 {
		t.Errorf("%d pending changes after an answer that followed its event, want 0", n)
	}
	checkView(t, v, "3-0:sr 2-0:sr 1-0:sra", protocol.Counts{})
	api.mu.Lock()
	defer api.mu.Unlock()
	want := []protocol.StateChange{{Op: "read", IDs: []string{"2-0"}}, {Op: "read", UpTo: "5-0"}}
	if len(api.posts) != 2 || !slices.Equal(api.posts[0].IDs, want[0].IDs) || api.posts[1].UpTo != "5-0" || api.posts[1].Op != "read" {
		t.Errorf("posts = %+v, want %+v", api.posts, want)
	}
}

// waitLast waits until v applied the entry id.
func waitLast(t *testing.T, v *InboxView, id string) {
	t.Helper()
	want := protocol.MustParseID(id)
	deadline := time.Now().Add(waitFor)
	for {
		v.mu.Lock()
		last := v.last
		v.mu.Unlock()
		if !last.Less(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("entry %s not applied", id)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

func pendingCount(v *InboxView) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.pending)
}

// TestInboxViewLoadMore: LoadMore adds the next page, with the state
// events received while it loaded applied to it.
func TestInboxViewLoadMore(t *testing.T) {
	conns := make(chan *fakeConn, 1)
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(inboxWelcome("3-0", protocol.StatusNew, 3, 3))
		conns <- fc
		fc.waitClose()
	})
	started, release := make(chan struct{}), newGate(t)
	api := &inboxAPI{t: t, page: func(r *http.Request) (int, string) {
		if r.URL.Query().Get("before") == "" {
			return 200, pageBody(3, 3, "2-0", pageItem{id: "3-0"}, pageItem{id: "2-0"})
		}
		close(started)
		<-release.c
		return 200, pageBody(3, 3, "", pageItem{id: "1-0"}, pageItem{id: "0-5"})
	}}
	fs.handleAPI(api)
	_, v := startView(t, fs, InboxViewConfig{PageSize: 2})
	waitChange(t, v, ChangeLoaded)
	fc := <-conns
	if !v.HasMore() {
		t.Fatal("HasMore = false with a next page")
	}

	type result struct {
		more bool
		err  error
	}
	done := make(chan result, 1)
	go func() {
		more, err := v.LoadMore(context.Background())
		done <- result{more, err}
	}()
	<-started
	fc.send(stateMsg("7-0", protocol.OpRead, []string{"1-0"}, "", 2, 2))
	waitChange(t, v, ChangeEvent)
	release.open()
	if r := <-done; r.err != nil || r.more {
		t.Fatalf("LoadMore = %v, %v; want false, nil", r.more, r.err)
	}
	ch := waitChange(t, v, ChangeMore)
	if !slices.Equal(ch.IDs, []string{"1-0", "0-5"}) {
		t.Errorf("more change ids = %v", ch.IDs)
	}
	checkView(t, v, "3-0: 2-0: 1-0:sr 0-5:", protocol.Counts{Unread: 2, Unseen: 2})
	api.mu.Lock()
	defer api.mu.Unlock()
	if !slices.Equal(api.gets, []string{"limit=2", "before=2-0&limit=2"}) {
		t.Errorf("GETs = %q", api.gets)
	}
}

// TestInboxViewChangesDropOldest: a full Changes channel loses its oldest
// change, never blocks and never loses the newest.
func TestInboxViewChangesDropOldest(t *testing.T) {
	v := &InboxView{changes: make(chan InboxChange, 2)}
	for i := range 5 {
		v.emitLocked(InboxChange{Kind: ChangeAlarm, Counts: protocol.Counts{Unread: i}})
	}
	if got := v.DroppedChanges(); got != 3 {
		t.Errorf("DroppedChanges = %d, want 3", got)
	}
	for _, want := range []int{3, 4} {
		if ch := <-v.changes; ch.Counts.Unread != want {
			t.Errorf("change %+v, want unread %d", ch, want)
		}
	}
}

// TestInboxViewOptimisticCounts: the counts of the view with pending
// changes, op by op.
func TestInboxViewOptimisticCounts(t *testing.T) {
	items, ids := itemsOf([]InboxItem{
		{Alarm: Alarm{ID: "4-0"}},
		{Alarm: Alarm{ID: "3-0"}, Seen: true},
		{Alarm: Alarm{ID: "2-0"}, Seen: true, Read: true},
		{Alarm: Alarm{ID: "1-0"}, Archived: true},
	})
	base := protocol.Counts{Unread: 5, Unseen: 3} // 2 more unread, 2 unseen beyond the loaded items
	tests := []struct {
		name string
		p    pendingChange
		want protocol.Counts
	}{
		{"read unseen", pendingChange{op: protocol.OpRead, ids: []string{"4-0"}}, protocol.Counts{Unread: 4, Unseen: 2}},
		{"read seen", pendingChange{op: protocol.OpRead, ids: []string{"3-0"}}, protocol.Counts{Unread: 4, Unseen: 3}},
		{"read read", pendingChange{op: protocol.OpRead, ids: []string{"2-0", "9-0"}}, base},
		{"seen", pendingChange{op: protocol.OpSeen, ids: []string{"4-0", "3-0"}}, protocol.Counts{Unread: 5, Unseen: 2}},
		{"unread", pendingChange{op: protocol.OpUnread, ids: []string{"2-0"}}, protocol.Counts{Unread: 6, Unseen: 3}},
		{"archive", pendingChange{op: protocol.OpArchive, ids: []string{"4-0"}}, protocol.Counts{Unread: 4, Unseen: 2}},
		{"unarchive", pendingChange{op: protocol.OpUnarchive, ids: []string{"1-0"}}, protocol.Counts{Unread: 6, Unseen: 4}},
		{"read all", pendingChange{op: protocol.OpRead, upTo: "4-0"}, protocol.Counts{}},
		{"read up to 3-0", pendingChange{op: protocol.OpRead, upTo: "3-0"}, protocol.Counts{Unread: 1, Unseen: 1}},
		{"seen up to 3-5", pendingChange{op: protocol.OpSeen, upTo: "3-5"}, protocol.Counts{Unread: 5, Unseen: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &InboxView{items: slices.Clone(items), ids: ids, counts: base, pending: []*pendingChange{&tt.p}}
			if got := v.countsLocked(); got != tt.want {
				t.Errorf("counts = %+v, want %+v", got, tt.want)
			}
			if itemsString(v.items) != itemsString(items) {
				t.Error("the view changed the server's items")
			}
		})
	}
}

func TestNewInboxViewRejects(t *testing.T) {
	c, err := New(testConfig("ws://127.0.0.1:1/v1/ws"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cfg := range []InboxViewConfig{{BaseURL: "ftp://x"}, {BaseURL: "http://"}, {PageSize: 1001}, {ChangeBuffer: -1}} {
		if _, err := NewInboxView(c, cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("NewInboxView(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	v, err := NewInboxView(c, InboxViewConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewInboxView(c, InboxViewConfig{}); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("second NewInboxView = %v, want ErrInvalidConfig", err)
	}
	if _, err := v.LoadMore(context.Background()); !errors.Is(err, ErrInboxNotLoaded) {
		t.Errorf("LoadMore before the first page = %v, want ErrInboxNotLoaded", err)
	}
	v.Close()
	v.Close()
	if _, ok := <-v.Changes(); ok {
		t.Error("Changes open after Close")
	}
	if err := v.MarkRead(context.Background(), "1-0"); !errors.Is(err, ErrInboxClosed) {
		t.Errorf("MarkRead after Close = %v", err)
	}
	v2, err := NewInboxView(c, InboxViewConfig{})
	if err != nil {
		t.Fatalf("NewInboxView after Close: %v", err)
	}
	v2.Close()
}

func TestHTTPBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080/v1/ws":          "http://127.0.0.1:8080",
		"wss://gw.example.com/v1/ws?x=1":     "https://gw.example.com",
		"wss://gw.example.com/alarms/v1/ws/": "https://gw.example.com/alarms",
		"ws://gw.example.com":                "http://gw.example.com",
		"wss://gw.example.com/alarms/v1/ws":  "https://gw.example.com/alarms",
		"https://gw.example.com/v1/ws":       "https://gw.example.com",
	} {
		if got, err := httpBase(in); err != nil || got != want {
			t.Errorf("httpBase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// TestInboxViewLoadFailures: a load that fails with 503 is reported and
// retried; one refused for good (400) is reported and left to the next
// welcome.
func TestInboxViewLoadFailures(t *testing.T) {
	next := make(chan struct{})
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(inboxWelcome("1-0", protocol.StatusNew, 1, 1))
		if n == 2 {
			fc.waitClose()
			return
		}
		fc.await(next)
		fc.close(protocol.CloseRestart, "restart")
	})
	answers := []struct {
		status int
		body   string
	}{
		{503, `{"error":{"code":"unavailable","message":"down"}}`},
		{200, pageBody(1, 1, "", pageItem{id: "1-0"})},
		{400, `{"error":{"code":"no_inbox","message":"none"}}`},
		{200, pageBody(0, 0, "")},
	}
	api := &inboxAPI{t: t}
	api.page = func(*http.Request) (int, string) {
		a := answers[min(api.getCount(), len(answers))-1]
		return a.status, a.body
	}
	fs.handleAPI(api)
	_, v := startView(t, fs, InboxViewConfig{})

	var apiErr *APIError
	if ch := waitChange(t, v, ChangeLoadFailed); !errors.As(ch.Err, &apiErr) || apiErr.Status != 503 {
		t.Errorf("first failure = %v", ch.Err)
	}
	waitChange(t, v, ChangeLoaded)
	checkView(t, v, "1-0:", protocol.Counts{Unread: 1, Unseen: 1})

	next <- struct{}{} // reconnect: new, so the view reloads
	if ch := waitChange(t, v, ChangeLoadFailed); !errors.As(ch.Err, &apiErr) || apiErr.Code != protocol.CodeNoInbox {
		t.Errorf("second failure = %v", ch.Err)
	}
	if v.Loaded() {
		t.Error("Loaded after a load refused for good")
	}
	checkView(t, v, "1-0:", protocol.Counts{Unread: 1, Unseen: 1}) // kept as it was
	next <- struct{}{}
	waitChange(t, v, ChangeLoaded)
	checkView(t, v, "", protocol.Counts{})
	if n := api.getCount(); n != 4 {
		t.Errorf("%d GETs, want 4", n)
	}
}

// TestInboxViewMaxItems: new alarms push the oldest items out beyond
// MaxItems, and LoadMore continues from the oldest item kept.
func TestInboxViewMaxItems(t *testing.T) {
	v := &InboxView{cfg: InboxViewConfig{MaxItems: 2}, channel: "user:42", changes: make(chan InboxChange, 10), loaded: true}
	for _, id := range []string{"1-0", "2-0", "3-0"} {
		v.onAlarm(Alarm{ID: id, Channel: "user:42", Counts: &protocol.Counts{Unread: 3, Unseen: 3}})
	}
	v.onAlarm(Alarm{ID: "4-0", Channel: "broadcast"})
	if got := itemsString(v.Items()); got != "3-0: 2-0:" || !v.HasMore() || v.next != "2-0" {
		t.Errorf("items %q, next %q", got, v.next)
	}
}

package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/protocol"
)

// viewDevice is one device of a user with the Go client's InboxView.
type viewDevice struct {
	name string
	view *client.InboxView
}

// startViewDevice runs a client on endpoint with an InboxView; both stop
// at cleanup.
func startViewDevice(h *harness, name, endpoint, tok string) *viewDevice {
	h.t.Helper()
	c, err := client.New(client.Config{Endpoints: []string{endpoint}, HTTPClient: h.httpc,
		Token: func(context.Context) (string, error) { return tok, nil }})
	if err != nil {
		h.t.Fatal(err)
	}
	v, err := client.NewInboxView(c, client.InboxViewConfig{HTTPClient: h.httpc})
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Run(ctx, client.Handler{})
	}()
	h.t.Cleanup(func() {
		cancel()
		<-done
		v.Close()
	})
	return &viewDevice{name: name, view: v}
}

// render is the device's items ("id:flags", s seen, r read, a archived)
// and counts.
func (d *viewDevice) render() string {
	var parts []string
	for _, it := range d.view.Items() {
		flags := ""
		if it.Seen {
			flags += "s"
		}
		if it.Read {
			flags += "r"
		}
		if it.Archived {
			flags += "a"
		}
		parts = append(parts, it.Alarm.Event+":"+flags)
	}
	c := d.view.Counts()
	return fmt.Sprintf("%s | unread %d unseen %d", strings.Join(parts, " "), c.Unread, c.Unseen)
}

// waitRender waits until every device renders want.
func waitRender(t *testing.T, want string, devices ...*viewDevice) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for _, d := range devices {
		for d.render() != want {
			if time.Now().After(deadline) {
				t.Fatalf("device %s renders %q, want %q", d.name, d.render(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// waitInboxLines waits until tail printed want as its "inbox:" lines.
func waitInboxLines(t *testing.T, tail *docsProc, want ...string) {
	t.Helper()
	var got []string
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		got = got[:0]
		for _, l := range tail.stdout.lines() {
			if strings.HasPrefix(l, "inbox:") {
				got = append(got, l)
			}
		}
		if slices.Equal(got, want) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("tail -inbox printed counts\n%s\nwant\n%s\nstdout:\n%s\nstderr:\n%s", strings.Join(got, "\n"),
		strings.Join(want, "\n"), tail.stdout.String(), tail.stderr.String())
}

// TestInboxViewTwoDevices: two devices of one user, each with the Go
// client's InboxView, on two nodes, and `gateway tail -inbox` on the
// second. Alarms published before they connect come from the first page,
// later ones live; every change made on one device (optimistic there)
// reaches the other's items and counts, and tail prints each move of the
// counts once. At the end the views agree with GET /v1/inbox.
func TestInboxViewTwoDevices(t *testing.T) {
	h := newHarness(t, options{nodes: 2})
	const user = "views"
	tok := h.token(user, nil)
	var ids []string
	publish := func(node int, event string) {
		t.Helper()
		res, err := h.publisher(node).Publish(h.ctx, "user:"+user, event, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, res.ID)
	}
	publish(0, "a")
	publish(1, "b")

	eps := h.endpoints()
	phone := startViewDevice(h, "phone", eps[0], tok)
	laptop := startViewDevice(h, "laptop", eps[1], tok)
	tail := startDocsProgram(t, gatewayBin, nil, "tail", "-inbox", "-url", eps[1], "-token", tok)
	waitRender(t, "b: a: | unread 2 unseen 2", phone, laptop)
	waitInboxLines(t, tail, "inbox: unread 2 unseen 2")

	publish(1, "c")
	waitRender(t, "c: b: a: | unread 3 unseen 3", phone, laptop)
	waitInboxLines(t, tail, "inbox: unread 2 unseen 2", "inbox: unread 3 unseen 3")

	ctx, cancel := context.WithTimeout(h.ctx, 15*time.Second)
	defer cancel()
	steps := []struct {
		on     *viewDevice
		change func() error
		want   string
	}{
		{phone, func() error { return phone.view.MarkRead(ctx, ids[2]) }, "c:sr b: a: | unread 2 unseen 2"},
		{laptop, func() error { return laptop.view.MarkSeen(ctx, ids[0], ids[1]) }, "c:sr b:s a:s | unread 2 unseen 0"},
		{laptop, func() error { return laptop.view.Archive(ctx, ids[0]) }, "c:sr b:s a:sa | unread 1 unseen 0"},
		{phone, func() error { return phone.view.MarkAllRead(ctx) }, "c:sr b:sr a:sra | unread 0 unseen 0"},
	}
	lines := []string{"inbox: unread 2 unseen 2", "inbox: unread 3 unseen 3"}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.on.name, err)
		}
		if got := s.on.render(); got != s.want { // shown at once, confirmed or not
			t.Errorf("%s right after its change renders %q, want %q", s.on.name, got, s.want)
		}
		waitRender(t, s.want, phone, laptop)
		c := s.on.view.Counts()
		lines = append(lines, fmt.Sprintf("inbox: unread %d unseen %d", c.Unread, c.Unseen))
		waitInboxLines(t, tail, lines...)
	}

	checkServerInbox(ctx, h, user, phone)
	tail.stop(t, "connected to gw-2")
	summary(t, "InboxViewTwoDevices: 2 devices on 2 nodes, %d alarms, %d changes; dropped changes phone %d laptop %d",
		len(ids), len(steps), phone.view.DroppedChanges(), laptop.view.DroppedChanges())
}

// checkServerInbox compares GET /v1/inbox with a device's view.
func checkServerInbox(ctx context.Context, h *harness, user string, d *viewDevice) {
	h.t.Helper()
	in, err := h.publisher(0).Inbox(ctx, user, client.InboxQuery{})
	if err != nil {
		h.t.Fatal(err)
	}
	items := d.view.Items()
	if got := (protocol.Counts{Unread: in.Unread, Unseen: in.Unseen}); got != d.view.Counts() || len(in.Items) != len(items) {
		h.t.Fatalf("GET /v1/inbox: counts %+v, %d items; %s: %q", got, len(in.Items), d.name, d.render())
	}
	for i, it := range in.Items {
		if v := items[i]; v.Alarm.ID != it.Alarm.ID || v.Seen != it.Seen || v.Read != it.Read || v.Archived != it.Archived {
			h.t.Fatalf("GET /v1/inbox item %d = %+v, %s holds %+v", i, it, d.name, v)
		}
	}
}

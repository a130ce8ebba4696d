package client

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/alarmgate/alarmgate/protocol"
)

func TestFrameSplittingAndCleanClose(t *testing.T) {
	before := goroutines()
	t.Cleanup(func() { verifyNoLeaks(t, before) }) // runs after the server's cleanup
	closed := make(chan protocol.CloseCode, 1)
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0), alarmMsg("1-0"), alarmMsg("1-1"), `{"type":"ping"}`, "")
		closed <- fc.waitClose()
	})
	c, err := New(testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop := startRun(t, c, rec.handler())

	w := rec.next(t, "welcome").welcome
	want := Welcome{Node: "gw-1", Epoch: "e1", Position: "0-0", Status: protocol.StatusNew, Channels: []string{"user:42", "broadcast"}}
	if !equalWelcome(w, want) {
		t.Errorf("welcome = %+v, want %+v", w, want)
	}
	a := rec.next(t, "alarm").alarm
	if a.ID != "1-0" || a.Channel != "user:42" || a.Event != "e" || string(a.Data) != `{"id":"1-0"}` || a.TS != 1 {
		t.Errorf("alarm = %+v", a)
	}
	if id := rec.next(t, "alarm").alarm.ID; id != "1-1" {
		t.Errorf("second alarm id = %s", id)
	}
	if err := stop(); err != nil {
		t.Fatalf("Run = %v, want nil after cancel", err)
	}
	if code := <-closed; code != protocol.CloseNormal {
		t.Errorf("server saw close code %d, want 1000", code)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.raw) != 4 || rec.raw[3] != `{"type":"ping"}` {
		t.Errorf("raw lines = %q", rec.raw)
	}
	if last, epoch := c.Position(); last != "1-1" || epoch != "e1" {
		t.Errorf("Position = %s %s", last, epoch)
	}
}

func equalWelcome(a, b Welcome) bool {
	return a.Node == b.Node && a.Epoch == b.Epoch && a.Position == b.Position &&
		a.Status == b.Status && a.Replayed == b.Replayed && slices.Equal(a.Channels, b.Channels)
}

func TestResumePositionOnReconnect(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		switch n {
		case 0:
			fc.send(welcomeMsg("e1", "5-0", protocol.StatusExpired, 0))
			fc.send(alarmMsg("6-0"))
			fc.send(alarmMsg("7-0"))
			fc.close(protocol.CloseSlowClient, "slow")
		case 1:
			fc.send(welcomeMsg("e1", "7-0", protocol.StatusResumed, 1), alarmMsg("8-0"))
			fc.close(protocol.CloseRestart, "draining")
		case 2:
			fc.send(welcomeMsg("e1", "8-0", protocol.StatusResumed, 0))
			fc.waitClose()
		}
	})
	cfg := testConfig(fs.url)
	cfg.LastID, cfg.Epoch = "3-0", "e0"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startRun(t, c, rec.handler())

	wantHellos := []sentHello{
		{Type: "hello", Token: "tok", LastID: "3-0", Epoch: "e0"},
		{Type: "hello", Token: "tok", LastID: "7-0", Epoch: "e1"},
		{Type: "hello", Token: "tok", LastID: "8-0", Epoch: "e1"},
	}
	for i, want := range wantHellos {
		if got := fs.nextHello(t).hello; got != want {
			t.Errorf("hello %d = %+v, want %+v", i, got, want)
		}
	}
	var codes []protocol.CloseCode
	for len(codes) < 2 {
		if e := <-rec.events; e.kind == "disconnect" {
			codes = append(codes, e.disc.Code)
			if e.disc.Endpoint != fs.url {
				t.Errorf("disconnect endpoint = %q", e.disc.Endpoint)
			}
		}
	}
	if !slices.Equal(codes, []protocol.CloseCode{protocol.CloseSlowClient, protocol.CloseRestart}) {
		t.Errorf("close codes = %v", codes)
	}
}

func TestHelloOmitsEmptyPosition(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) { fc.waitClose() })
	c, err := New(testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	startRun(t, c, Handler{})
	h := fs.nextHello(t).hello
	if h.LastID != "" || h.Epoch != "" || h.Token != "tok" {
		t.Errorf("hello = %+v", h)
	}
}

func TestDuplicatesDropped(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		switch n {
		case 0:
			fc.send(welcomeMsg("e1", "5-0", protocol.StatusResumed, 0), alarmMsg("5-0"), alarmMsg("6-0"))
			fc.send(alarmMsg("6-0"), alarmMsg("5-9"), alarmMsg("6-1"))
			fc.close(protocol.CloseSlowClient, "")
		case 1: // a buggy node: resumes from behind and replays what was delivered
			fc.send(welcomeMsg("e1", "4-0", protocol.StatusResumed, 3), alarmMsg("5-0"), alarmMsg("6-1"), alarmMsg("7-0"))
			fc.close(protocol.CloseRestart, "")
		case 2: // the history was lost: lower ids are new alarms
			fc.send(welcomeMsg("e2", "1-0", protocol.StatusEpochChanged, 0), alarmMsg("2-0"))
			fc.waitClose()
		}
	})
	cfg := testConfig(fs.url)
	cfg.LastID, cfg.Epoch = "5-0", "e1"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	polls := make(chan struct{})
	go func() { // Position and Duplicates are safe from any goroutine
		defer close(polls)
		for range 100 {
			c.Position()
			c.Duplicates()
		}
	}()
	stop := startRun(t, c, rec.handler())
	ids := rec.alarmIDs(t, 4)
	<-polls
	if want := []string{"6-0", "6-1", "7-0", "2-0"}; !slices.Equal(ids, want) {
		t.Errorf("delivered %v, want %v", ids, want)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	if d := c.Duplicates(); d != 5 {
		t.Errorf("Duplicates = %d, want 5", d)
	}
	if last, epoch := c.Position(); last != "2-0" || epoch != "e2" {
		t.Errorf("Position = %s %s, want 2-0 e2", last, epoch)
	}
}

func TestTokenCalledAgainAfter4001(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		if n == 0 {
			fc.close(protocol.CloseAuth, "token expired")
			return
		}
		fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0))
		fc.waitClose()
	})
	var calls atomic.Int32
	cfg := testConfig(fs.url)
	cfg.Token = func(context.Context) (string, error) {
		return []string{"old", "fresh"}[min(calls.Add(1)-1, 1)], nil
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startRun(t, c, rec.handler())
	if tok := fs.nextHello(t).hello.Token; tok != "old" {
		t.Errorf("first token = %q", tok)
	}
	if tok := fs.nextHello(t).hello.Token; tok != "fresh" {
		t.Errorf("second token = %q", tok)
	}
	d := rec.next(t, "disconnect").disc
	if d.Code != protocol.CloseAuth || d.Reason != "token expired" {
		t.Errorf("disconnect = %+v", d)
	}
	rec.next(t, "welcome")
}

func TestProtocolCloseStopsRun(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) { fc.close(protocol.CloseProtocol, "bad hello") })
	c, err := New(testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	err = c.Run(context.Background(), rec.handler())
	if !errors.Is(err, ErrProtocol) {
		t.Fatalf("Run = %v, want ErrProtocol", err)
	}
	if d := rec.next(t, "disconnect").disc; d.Code != protocol.CloseProtocol || d.Reason != "bad hello" {
		t.Errorf("disconnect = %+v", d)
	}
	if n := fs.conns.Load(); n != 1 {
		t.Errorf("%d connections, want 1", n)
	}
}

func TestRestartReconnectsAtOnceToNextEndpoint(t *testing.T) {
	var total atomic.Int32 // connections over both servers
	script := func(fc *fakeConn, n int) {
		fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0))
		if total.Add(1) == 1 {
			fc.close(protocol.CloseRestart, "draining")
			return
		}
		fc.waitClose()
	}
	a, b := newFakeServer(t, "a", script), newFakeServer(t, "b", script)
	var randCalls atomic.Int32
	cfg := testConfig(a.url, b.url)
	cfg.Rand = func() float64 { randCalls.Add(1); return 0 }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	afterNew := randCalls.Load()
	rec := newRecorder()
	startRun(t, c, rec.handler())
	rec.next(t, "welcome")
	first := rec.next(t, "disconnect").disc
	if first.Code != protocol.CloseRestart {
		t.Fatalf("disconnect = %+v", first)
	}
	rec.next(t, "welcome")
	if n := randCalls.Load() - afterNew; n != 0 {
		t.Errorf("Rand called %d times: 1012 after a welcome must reconnect without backoff", n)
	}
	if a.conns.Load() != 1 || b.conns.Load() != 1 {
		t.Errorf("connections a=%d b=%d, want one each", a.conns.Load(), b.conns.Load())
	}
}

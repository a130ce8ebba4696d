package client

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

func TestIdleTimeoutReconnects(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(welcomeMsg("e1", "9-0", protocol.StatusNew, 0)) // then silence
		fc.waitClose()
	})
	cfg := testConfig(fs.url)
	cfg.IdleTimeout = 50 * time.Millisecond
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startRun(t, c, rec.handler())
	// On a loaded machine the idle timeout may also fire before a welcome;
	// wait for one that follows a welcome.
	welcomed := false
	rec.until(t, func(e event) bool {
		switch e.kind {
		case "welcome":
			welcomed = true
		case "disconnect":
			if welcomed && errors.Is(e.disc.Err, ErrIdleTimeout) && e.disc.Code == -1 {
				return true
			}
			welcomed = false
		}
		return false
	})
	for { // the reconnect resumes from the welcome's position
		if h := fs.nextHello(t).hello; h.LastID == "9-0" && h.Epoch == "e1" {
			break
		}
	}
}

func TestWelcomeTimeout(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) { fc.waitClose() })
	cfg := testConfig(fs.url)
	cfg.DialTimeout = 200 * time.Millisecond
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startRun(t, c, rec.handler())
	rec.until(t, func(e event) bool { return errors.Is(e.disc.Err, ErrWelcomeTimeout) })
	fs.nextHello(t)
	fs.nextHello(t) // it reconnected
}

func TestBadMessagesDropConnection(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
	}{
		{"not json", []string{welcomeMsg("e1", "0-0", protocol.StatusNew, 0), "not json"}},
		{"alarm before welcome", []string{alarmMsg("1-0")}},
		{"bad alarm id", []string{welcomeMsg("e1", "0-0", protocol.StatusNew, 0), alarmMsg("1-x")}},
		{"bad welcome position", []string{welcomeMsg("e1", "", protocol.StatusNew, 0)}},
		{"second welcome", []string{welcomeMsg("e1", "0-0", protocol.StatusNew, 0), welcomeMsg("e1", "0-0", protocol.StatusNew, 0)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed := make(chan protocol.CloseCode, 10)
			fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
				if n == 0 {
					fc.send(tt.lines...)
				}
				closed <- fc.waitClose()
			})
			c, err := New(testConfig(fs.url))
			if err != nil {
				t.Fatal(err)
			}
			rec := newRecorder()
			startRun(t, c, Handler{Disconnect: rec.handler().Disconnect})
			if d := rec.next(t, "disconnect").disc; !errors.Is(d.Err, ErrBadMessage) {
				t.Errorf("disconnect = %+v, want ErrBadMessage", d)
			}
			if code := <-closed; code != 1002 {
				t.Errorf("server saw close %d, want 1002", code)
			}
			fs.nextHello(t)
			fs.nextHello(t) // it reconnected
		})
	}
}

func TestDialFailureThenNextEndpoint(t *testing.T) {
	dead := httptest.NewServer(nil)
	deadURL := "ws" + strings.TrimPrefix(dead.URL, "http") + "/v1/ws"
	dead.Close()
	fs := newFakeServer(t, "live", func(fc *fakeConn, n int) {
		fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0))
		fc.waitClose()
	})
	cfg := testConfig(deadURL, fs.url)
	rnd := []float64{0.99} // keeps the order at New; then 0
	cfg.Rand = func() float64 {
		if len(rnd) == 0 {
			return 0
		}
		r := rnd[0]
		rnd = rnd[1:]
		return r
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startRun(t, c, rec.handler())
	d := rec.next(t, "disconnect").disc
	if d.Endpoint != deadURL || d.Err == nil || d.Code != -1 {
		t.Errorf("disconnect = %+v, want a dial error on %s", d, deadURL)
	}
	rec.next(t, "welcome")
}

func TestTokenErrorStopsRun(t *testing.T) {
	boom := errors.New("boom")
	cfg := testConfig("ws://127.0.0.1:1/v1/ws")
	cfg.Token = func(context.Context) (string, error) { return "", boom }
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Run(context.Background(), Handler{}); !errors.Is(err, boom) {
		t.Errorf("Run = %v, want boom", err)
	}
}

func TestRunTwiceAndAfterCancel(t *testing.T) {
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0))
		fc.waitClose()
	})
	c, err := New(testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	stop := startRun(t, c, rec.handler())
	rec.next(t, "welcome")
	if err := c.Run(context.Background(), Handler{}); !errors.Is(err, ErrAlreadyRunning) {
		t.Errorf("second Run = %v, want ErrAlreadyRunning", err)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Run(ctx, Handler{}); err != nil {
		t.Errorf("Run with done ctx = %v, want nil", err)
	}
}

func TestNewValidates(t *testing.T) {
	tok := func(context.Context) (string, error) { return "", nil }
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"valid", Config{Endpoints: []string{"ws://h/v1/ws", "https://h2/v1/ws"}, Token: tok}, true},
		{"no endpoints", Config{Token: tok}, false},
		{"bad scheme", Config{Endpoints: []string{"ftp://h/v1/ws"}, Token: tok}, false},
		{"no host", Config{Endpoints: []string{"ws:///v1/ws"}, Token: tok}, false},
		{"no token", Config{Endpoints: []string{"ws://h/v1/ws"}}, false},
		{"negative", Config{Endpoints: []string{"ws://h/v1/ws"}, Token: tok, IdleTimeout: -1}, false},
		{"min > max", Config{Endpoints: []string{"ws://h/v1/ws"}, Token: tok, MinBackoff: time.Minute}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.cfg)
			if tt.ok != (err == nil) {
				t.Fatalf("New = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("error %v is not ErrInvalidConfig", err)
			}
			if err == nil && (c.cfg.MinBackoff != DefaultMinBackoff || c.cfg.MaxBackoff != DefaultMaxBackoff ||
				c.cfg.DialTimeout != DefaultDialTimeout || c.cfg.IdleTimeout != DefaultIdleTimeout) {
				t.Errorf("defaults not applied: %+v", c.cfg)
			}
		})
	}
}

func TestPingsAnsweredWhileHandlerBusy(t *testing.T) {
	pinged := make(chan error, 1)
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0), alarmMsg("1-0"))
		closed := make(chan protocol.CloseCode, 1)
		go func() { closed <- fc.waitClose() }() // the server reads pongs
		ctx, cancel := context.WithTimeout(fc.ctx, waitFor)
		defer cancel()
		pinged <- fc.conn.Ping(ctx)
		<-closed
	})
	c, err := New(testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	startRun(t, c, Handler{Alarm: func(Alarm) {
		got <- <-pinged // block the handler until the server's ping was answered
	}})
	if err := <-got; err != nil {
		t.Errorf("server ping while the handler was busy: %v", err)
	}
}

func TestReadLimit(t *testing.T) {
	closed := make(chan protocol.CloseCode, 10)
	fs := newFakeServer(t, "a", func(fc *fakeConn, n int) {
		if n == 0 {
			fc.send(welcomeMsg("e1", "0-0", protocol.StatusNew, 0))
			fc.send(`{"type":"x","pad":"` + strings.Repeat("a", readLimit) + `"}`)
		}
		closed <- fc.waitClose()
	})
	c, err := New(testConfig(fs.url))
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	startRun(t, c, rec.handler())
	rec.next(t, "welcome")
	if d := rec.next(t, "disconnect").disc; d.Err == nil {
		t.Errorf("disconnect = %+v, want a read limit error", d)
	}
	if code := <-closed; code != 1009 {
		t.Errorf("server saw close %d, want 1009 (message too big)", code)
	}
}

package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alarmgate/alarmgate/client"
	"github.com/coder/websocket"
)

// demoInboxGateway is a stand-in for a gateway node with user 42's inbox
// of two unread alarms: a WebSocket that welcomes and then sends the
// state events, GET /v1/inbox, and POST /v1/inbox/state, which accepts
// a change and sends its state event.
func demoInboxGateway() *httptest.Server {
	events := make(chan string, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/ws", func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		if _, _, err := conn.Read(r.Context()); err != nil { // hello
			return
		}
		ctx := conn.CloseRead(r.Context())
		welcome := `{"type":"welcome","node":"gw-1","epoch":"e7f","channels":["user:42","broadcast"],` +
			`"position":"1732530000002-0","resume":{"status":"new","replayed":0},"inbox":{"unread":2,"unseen":2}}`
		_ = conn.Write(ctx, websocket.MessageText, []byte(welcome))
		for {
			select {
			case ev := <-events:
				_ = conn.Write(ctx, websocket.MessageText, []byte(ev))
			case <-ctx.Done():
				return
			}
		}
	})
	mux.HandleFunc("GET /v1/inbox", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"epoch":"e7f","unread":2,"unseen":2,"items":[`+
			`{"alarm":{"type":"alarm","id":"1732530000002-0","ts":1732530000002,"channel":"user:42","event":"invoice.paid","data":{"invoice":12}},"seen":false,"read":false,"archived":false},`+
			`{"alarm":{"type":"alarm","id":"1732530000001-0","ts":1732530000001,"channel":"user:42","event":"order.shipped","data":{"order":7}},"seen":false,"read":false,"archived":false}]}`)
	})
	mux.HandleFunc("POST /v1/inbox/state", func(w http.ResponseWriter, r *http.Request) {
		events <- `{"type":"state","id":"1732530000003-0","ts":1732530000003,"channel":"user:42",` +
			`"op":"read","ids":["1732530000002-0"],"unread":1,"unseen":1}`
		io.WriteString(w, `{"id":"1732530000003-0","changed":1,"unread":1,"unseen":1}`)
	})
	return httptest.NewServer(mux)
}

func ExampleInboxView() {
	srv := demoInboxGateway()
	defer srv.Close()

	c, err := client.New(client.Config{
		Endpoints: []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"},
		Token:     func(context.Context) (string, error) { return "<JWT>", nil },
	})
	if err != nil {
		log.Fatal(err)
	}
	// Attach the inbox before Run: it loads GET /v1/inbox at the welcome
	// (with the token, from the connected node) and applies what arrives.
	inbox, err := client.NewInboxView(c, client.InboxViewConfig{})
	if err != nil {
		log.Fatal(err)
	}
	defer inbox.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, client.Handler{}) }()

	for ch := range inbox.Changes() { // redraw on every change
		switch ch.Kind {
		case client.ChangeLoaded:
			for _, it := range inbox.Items() { // newest first
				fmt.Println(it.Alarm.ID, it.Alarm.Event, "read:", it.Read)
			}
			fmt.Println("loaded: unread", ch.Counts.Unread)
			// A UI would call this from its own goroutine; it returns the
			// gateway's answer, and undoes the change if it failed.
			if err := inbox.MarkRead(ctx, inbox.Items()[0].Alarm.ID); err != nil {
				log.Print(err)
			}
		case client.ChangeLocal:
			fmt.Println("marked", ch.Op, ch.IDs, "at once: unread", ch.Counts.Unread)
		case client.ChangeEvent:
			fmt.Println("state event", ch.Op, ch.IDs, "(on every device): unread", ch.Counts.Unread)
			cancel() // a real application keeps running
		}
		if ctx.Err() != nil {
			break
		}
	}
	fmt.Println("Run:", <-done)
	// Output:
	// 1732530000002-0 invoice.paid read: false
	// 1732530000001-0 order.shipped read: false
	// loaded: unread 2
	// marked read [1732530000002-0] at once: unread 1
	// state event read [1732530000002-0] (on every device): unread 1
	// Run: <nil>
}

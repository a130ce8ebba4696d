package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/alarmgate/alarmgate/client"
	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/protocol"
)

// demoGateway is a stand-in for a gateway node: it reads the hello,
// answers with a welcome and one alarm in a single frame, and waits for
// the client to close.
func demoGateway() *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer conn.CloseNow()
		if _, _, err := conn.Read(r.Context()); err != nil { // hello
			return
		}
		frame := `{"type":"welcome","node":"gw-1","epoch":"e7f","channels":["user:42","broadcast"],` +
			`"position":"1732530000000-3","resume":{"status":"resumed","replayed":1}}` + "\n" +
			`{"type":"alarm","id":"1732530000001-0","ts":1732530000001,"channel":"user:42",` +
			`"event":"order.shipped","data":{"order":7}}`
		_ = conn.Write(r.Context(), websocket.MessageText, []byte(frame))
		_, _, _ = conn.Read(r.Context()) // until the client closes
	}))
}

func ExampleClient_Run() {
	srv := demoGateway()
	defer srv.Close()

	c, err := client.New(client.Config{
		Endpoints: []string{"ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/ws"},
		Token:     func(context.Context) (string, error) { return "<JWT>", nil },
		LastID:    "1732530000000-3", // from an earlier run's Position
		Epoch:     "e7f",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err = c.Run(ctx, client.Handler{
		Welcome: func(w client.Welcome) {
			if w.Status != protocol.StatusResumed {
				fmt.Println("state may be stale: rebuild it with Publisher.History")
			}
			fmt.Println("welcome from", w.Node, w.Status)
		},
		Alarm: func(a client.Alarm) {
			fmt.Println(a.ID, a.Channel, a.Event, string(a.Data))
			cancel() // a real application keeps running
		},
	})
	fmt.Println("Run:", err)
	fmt.Println(c.Position())
	// Output:
	// welcome from gw-1 resumed
	// 1732530000001-0 user:42 order.shipped {"order":7}
	// Run: <nil>
	// 1732530000001-0 e7f
}

func ExamplePublisher_Publish() {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Idempotency-Key") == "order-7-shipped" && r.Header.Get("Authorization") == "Bearer secret" {
			w.WriteHeader(http.StatusCreated)
			io.WriteString(w, `{"id":"1732530000001-0","channel":"user:42","epoch":"e7f"}`)
			return
		}
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"error":{"code":"unauthorized","message":"missing or wrong key"}}`)
	}))
	defer srv.Close()

	p := &client.Publisher{BaseURL: srv.URL, APIKey: "secret"}
	pub, err := p.Publish(context.Background(), "user:42", "order.shipped",
		map[string]any{"order": 7}, "order-7-shipped")
	fmt.Println(pub.ID, pub.Channel, pub.Epoch, pub.Replayed, err)

	p.APIKey = "wrong"
	_, err = p.Publish(context.Background(), "user:42", "order.shipped", nil, "")
	fmt.Println(err)
	var apiErr *client.APIError
	fmt.Println(errors.As(err, &apiErr) && apiErr.Code == protocol.CodeUnauthorized)
	// Output:
	// 1732530000001-0 user:42 e7f false <nil>
	// gateway: 401 unauthorized: missing or wrong key
	// true
}

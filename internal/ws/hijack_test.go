package ws

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// TestLeanHijackerKeepsEarlyBytes: frames a client sends right after the
// handshake (often already buffered by net/http) survive the buffer swap,
// and frames larger than both buffers pass intact in both directions.
func TestLeanHijackerKeepsEarlyBytes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(&leanHijacker{ResponseWriter: w}, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(1 << 20)
		for {
			typ, b, err := c.Read(r.Context())
			if err != nil {
				return
			}
			if err := c.Write(r.Context(), typ, b); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for i := 0; i < 50; i++ {
		c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
		if err != nil {
			t.Fatal(err)
		}
		c.SetReadLimit(1 << 20)
		msgs := []string{fmt.Sprintf(`{"type":"hello","n":%d}`, i), strings.Repeat("x", 10000), "short"}
		for _, m := range msgs {
			if err := c.Write(ctx, websocket.MessageText, []byte(m)); err != nil {
				t.Fatal(err)
			}
		}
		for _, m := range msgs {
			_, b, err := c.Read(ctx)
			if err != nil {
				t.Fatalf("conn %d: %v", i, err)
			}
			if string(b) != m {
				t.Fatalf("conn %d: echo %q... want %q...", i, b[:min(20, len(b))], m[:min(20, len(m))])
			}
		}
		c.Close(websocket.StatusNormalClosure, "")
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/alarmgate/alarmgate/internal/stream"
)

// failoverProbe is what a load balancer and new clients saw while one
// partition's master failed over: every 250 ms, /readyz of every node and
// a hello of one user of each partition on each node.
type failoverProbe struct {
	mu       sync.Mutex
	rounds   int
	notReady int   // /readyz answers other than 200
	refused  []int // per partition: hellos not answered with a welcome
}

// probeFailover probes until ctx ends and returns what it saw once it has.
func (h *harness) probeFailover(ctx context.Context) <-chan *failoverProbe {
	p := &failoverProbe{refused: make([]int, h.parts)}
	toks := make([]string, h.parts)
	for i := 0; missing(toks); i++ {
		sub := fmt.Sprintf("probe%d", i)
		if k, _ := stream.PartitionOf("user:"+sub, h.parts); toks[k] == "" {
			toks[k] = h.token(sub, nil)
		}
	}
	out := make(chan *failoverProbe, 1)
	go func() {
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				out <- p
				return
			case <-t.C:
			}
			p.round(h, toks)
		}
	}()
	return out
}

// missing reports whether some token is still missing.
func missing(toks []string) bool {
	for _, t := range toks {
		if t == "" {
			return true
		}
	}
	return false
}

// round probes every node once.
func (p *failoverProbe) round(h *harness, toks []string) {
	var wg sync.WaitGroup
	for _, addr := range h.addrs {
		wg.Go(func() {
			if !h.readyz(addr) {
				p.count(&p.notReady)
			}
		})
		for k, tok := range toks {
			wg.Go(func() {
				if !h.welcomed(addr, tok) {
					p.count(&p.refused[k])
				}
			})
		}
	}
	wg.Wait()
	p.mu.Lock()
	p.rounds++
	p.mu.Unlock()
}

func (p *failoverProbe) count(n *int) {
	p.mu.Lock()
	*n++
	p.mu.Unlock()
}

// readyz reports whether the node at addr answers /readyz 200 within 2 s.
func (h *harness) readyz(addr string) bool {
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/readyz", nil)
	if err != nil {
		return false
	}
	res, err := h.httpc.Do(req)
	if err != nil {
		return false
	}
	_ = res.Body.Close()
	return res.StatusCode == http.StatusOK
}

// welcomed reports whether a hello with tok on the node at addr is
// answered with a welcome within 2 s.
func (h *harness) welcomed(addr, tok string) bool {
	ctx, cancel := context.WithTimeout(h.ctx, 2*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/v1/ws", &websocket.DialOptions{HTTPClient: h.httpc})
	if err != nil {
		return false
	}
	defer func() { _ = c.CloseNow() }()
	hello, _ := json.Marshal(map[string]string{"type": "hello", "token": tok})
	if err := c.Write(ctx, websocket.MessageText, hello); err != nil {
		return false
	}
	_, b, err := c.Read(ctx)
	return err == nil && strings.HasPrefix(string(b), `{"type":"welcome"`)
}

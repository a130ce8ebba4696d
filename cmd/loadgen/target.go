package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/alarmgate/alarmgate/protocol"
)

// target is what differs between the systems loadgen measures: how a node
// starts, how a client says hello and reads what arrives, and how alarms
// are published. Everything else (pacing, histograms, /proc, reports) is
// shared, so both are measured the same way.
type target interface {
	// Name is the value of the RESULT key target.
	Name() string
	// startNode starts node i of cl (its Redis runs) and waits until it is
	// ready.
	startNode(ctx context.Context, cl *cluster, i int) (*gwNode, error)
	// tokens mints n client tokens for subjects prefix+i; channels nil
	// means each client's personal channel user:<prefix><i>.
	tokens(secret, prefix string, n int, channels []string) ([]string, error)
	// hello is the first message on a new connection; from, when not nil,
	// asks to resume after the given position.
	hello(token string, from *resumeFrom) []byte
	// dispatch hands every message of one frame to h; reply is what the
	// client must answer (a pong), nil when nothing.
	dispatch(frame []byte, now time.Time, h handler) (reply []byte, err error)
	// publishRequest and batchRequest return the HTTP path and body that
	// publish one alarm or one alarm per (channel, data) pair.
	publishRequest(channel string, data []byte) (string, []byte)
	batchRequest(channels []string, data [][]byte) (string, []byte)
	// published reports whether a single publish answer accepted the alarm.
	published(status int, body []byte) bool
	// batchPositions returns the position of each item of a batch answer
	// ("" for a refused one), as parsePosition reads them.
	batchPositions(status int, body []byte) ([]string, error)
	// setAuth adds the API key to a publish request.
	setAuth(req *http.Request, apiKey string)
	// heapMetrics reports whether nodes serve Go heap metrics on /metrics.
	heapMetrics() bool
}

// resumeFrom is where a reconnecting client was: its channel, the last
// position it saw and the epoch of that position.
type resumeFrom struct {
	Channel  string
	Position string
	Epoch    string
}

// welcome is what loadgen reads from a node's answer to hello.
type welcome struct {
	Node     string // alarmgate only
	Position string // last position on the (first) channel
	Epoch    string
	Status   protocol.Status
	Replayed int // alarms delivered with or right after the welcome
}

// parseTargets reads -target: one name, or "both" for the gateway and the
// peer, alternately.
func parseTargets(s string) ([]target, error) {
	var out []target
	for name := range strings.SplitSeq(s, ",") {
		switch strings.TrimSpace(name) {
		case "alarmgate":
			out = append(out, alarmgate{})
		case "centrifugo":
			out = append(out, centrifugo{})
		case "both":
			out = append(out, alarmgate{}, centrifugo{})
		default:
			return nil, fmt.Errorf("-target: unknown %q (alarmgate, centrifugo or both)", name)
		}
	}
	return out, nil
}

// alarmgate is the gateway of this module.
type alarmgate struct{}

func (alarmgate) Name() string      { return "alarmgate" }
func (alarmgate) heapMetrics() bool { return true }

func (alarmgate) startNode(ctx context.Context, cl *cluster, i int) (*gwNode, error) {
	return cl.startGateway(ctx, i)
}

func (alarmgate) tokens(secret, prefix string, n int, channels []string) ([]string, error) {
	return tokens(secret, prefix, n, channels)
}

func (alarmgate) hello(token string, from *resumeFrom) []byte {
	h := protocol.Hello{Type: protocol.TypeHello, Token: token}
	if from != nil {
		h.LastID, h.Epoch = &from.Position, from.Epoch
	}
	b, _ := json.Marshal(h)
	return b
}

func (alarmgate) dispatch(frame []byte, now time.Time, h handler) ([]byte, error) {
	return nil, dispatch(frame, now, h)
}

func (alarmgate) publishRequest(channel string, data []byte) (string, []byte) {
	return "/v1/alarms", publishBody(channel, data)
}

func (alarmgate) batchRequest(channels []string, data [][]byte) (string, []byte) {
	return "/v1/alarms/batch", batchBody(channels, data)
}

func (alarmgate) published(status int, _ []byte) bool { return status == http.StatusCreated }

func (alarmgate) batchPositions(status int, body []byte) ([]string, error) {
	if status != http.StatusOK {
		return nil, fmt.Errorf("publish: batch: status %d: %.200s", status, body)
	}
	var r batchResults
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("publish: batch: %w", err)
	}
	ids := make([]string, len(r.Results))
	for i, x := range r.Results {
		ids[i] = x.ID
	}
	return ids, nil
}

func (alarmgate) setAuth(req *http.Request, apiKey string) {
	req.Header.Set("Authorization", "Bearer "+apiKey)
}

// batchResults is the answer of POST /v1/alarms/batch.
type batchResults struct {
	Results []struct {
		ID    string          `json:"id"`
		Error json.RawMessage `json:"error"`
	} `json:"results"`
}

// parsePosition reads a position as the targets give it: a stream id
// "<ms>-<seq>" (alarmgate) or a channel offset "<n>" (centrifugo, as
// {0, n}).
func parsePosition(b []byte) (alarmID, bool) {
	if bytes.IndexByte(b, '-') >= 0 {
		return parseID(b)
	}
	n, c := leadingInt(b)
	if c == 0 || c != len(b) {
		return alarmID{}, false
	}
	return alarmID{0, uint64(n)}, true
}

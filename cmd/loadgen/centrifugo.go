package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/alarmgate/alarmgate/protocol"
)

// centrifugo is the peer: Centrifugo v6 with its Redis engine, spoken to
// over its JSON protocol on /connection/websocket and its HTTP API.
// Clients get their channels as server-side subscriptions from the
// token's channels claim.
type centrifugo struct{}

func (centrifugo) Name() string      { return "centrifugo" }
func (centrifugo) heapMetrics() bool { return false }

func (centrifugo) startNode(ctx context.Context, cl *cluster, i int) (*gwNode, error) {
	return cl.startPeer(ctx, i)
}

// tokens mints HS256 tokens with sub and channels claims, valid 2 hours.
func (centrifugo) tokens(secret, prefix string, n int, channels []string) ([]string, error) {
	out := make([]string, n)
	exp := time.Now().Add(2 * time.Hour).Unix()
	for i := range out {
		sub := prefix + strconv.Itoa(i)
		chans := channels
		if chans == nil {
			chans = []string{"user:" + sub}
		}
		t := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": sub, "exp": exp, "channels": chans})
		s, err := t.SignedString([]byte(secret))
		if err != nil {
			return nil, fmt.Errorf("centrifugo: token: %w", err)
		}
		out[i] = s
	}
	return out, nil
}

// centConnect is the connect command; Subs asks to recover server-side
// subscriptions.
type centConnect struct {
	ID      uint32 `json:"id"`
	Connect struct {
		Token string                `json:"token"`
		Subs  map[string]centResume `json:"subs,omitempty"`
	} `json:"connect"`
}

type centResume struct {
	Recover bool   `json:"recover"`
	Offset  uint64 `json:"offset"`
	Epoch   string `json:"epoch"`
}

func (centrifugo) hello(token string, from *resumeFrom) []byte {
	var c centConnect
	c.ID = 1
	c.Connect.Token = token
	if from != nil {
		off, _ := strconv.ParseUint(from.Position, 10, 64)
		c.Connect.Subs = map[string]centResume{from.Channel: {Recover: true, Offset: off, Epoch: from.Epoch}}
	}
	b, _ := json.Marshal(c)
	return b
}

// centReply is the part of a Centrifugo reply loadgen reads.
type centReply struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Connect *struct {
		Subs map[string]centSub `json:"subs"`
	} `json:"connect"`
}

// centSub is a server-side subscription in the connect reply.
type centSub struct {
	Epoch         string    `json:"epoch"`
	Offset        uint64    `json:"offset"`
	Recovered     bool      `json:"recovered"`
	WasRecovering bool      `json:"was_recovering"`
	Publications  []centPub `json:"publications"`
}

type centPub struct {
	Data   json.RawMessage `json:"data"`
	Offset uint64          `json:"offset"`
}

var (
	centPing    = []byte(`{}`)
	centPush    = []byte(`{"push":`)
	centPubData = []byte(`"pub":{"data":`)
	centOffset  = []byte(`"offset":`)
)

// errCentReply reports an error reply or a reply that does not decode.
var errCentReply = errors.New("centrifugo: bad reply")

// dispatch reads one frame of the JSON protocol: newline-separated
// messages; {} is a ping (answered with {}), {"push":{..."pub":…}} a
// publication, anything else a reply.
func (centrifugo) dispatch(frame []byte, now time.Time, h handler) ([]byte, error) {
	var reply []byte
	var err error
	splitLines(frame, func(msg []byte) {
		switch {
		case bytes.Equal(msg, centPing):
			reply = centPing
		case bytes.HasPrefix(msg, centPush):
			if a, ok := parseCentPush(msg); ok && h.Alarm != nil {
				h.Alarm(a, now)
			}
		default:
			if e := centDispatchReply(msg, now, h); e != nil && err == nil {
				err = e
			}
		}
	})
	return reply, err
}

// parseCentPush extracts the data's publish time and step and the offset
// of a publication push without decoding it; ok is false for other pushes
// (join, leave, disconnect, …).
func parseCentPush(msg []byte) (a benchAlarm, ok bool) {
	i := bytes.Index(msg, centPubData)
	if i < 0 {
		return a, false
	}
	data := msg[i+len(centPubData):]
	if j := bytes.LastIndex(data, centOffset); j >= 0 {
		if _, n := leadingInt(data[j+len(centOffset):]); n > 0 {
			a.ID = data[j+len(centOffset) : j+len(centOffset)+n]
		}
	}
	a.T, a.Step = parseData(data)
	return a, true
}

// centDispatchReply hands a connect reply to h: the welcome, then the
// recovered publications as alarms.
func centDispatchReply(msg []byte, now time.Time, h handler) error {
	var r centReply
	if err := json.Unmarshal(msg, &r); err != nil {
		return fmt.Errorf("%w: %v", errCentReply, err)
	}
	if r.Error != nil {
		return fmt.Errorf("%w: %d %s", errCentReply, r.Error.Code, r.Error.Message)
	}
	if r.Connect == nil {
		return nil
	}
	w := welcome{Status: protocol.StatusNew}
	var pubs []centPub
	for _, s := range r.Connect.Subs { // loadgen's clients have one channel each
		w.Position, w.Epoch = strconv.FormatUint(s.Offset, 10), s.Epoch
		switch {
		case s.Recovered:
			w.Status = protocol.StatusResumed
		case s.WasRecovering:
			w.Status = protocol.StatusExpired
		}
		pubs = s.Publications
		break
	}
	w.Replayed = len(pubs)
	if h.Welcome != nil {
		h.Welcome(w, now)
	}
	for _, p := range pubs {
		a := benchAlarm{ID: strconv.AppendUint(nil, p.Offset, 10)}
		a.T, a.Step = parseData(p.Data)
		if h.Alarm != nil {
			h.Alarm(a, now)
		}
	}
	return nil
}

func (centrifugo) publishRequest(channel string, data []byte) (string, []byte) {
	return "/api/publish", centPublishBody(channel, data)
}

// centPublishBody is {"channel":…,"data":…}.
func centPublishBody(channel string, data []byte) []byte {
	b := make([]byte, 0, len(channel)+len(data)+32)
	b = append(b, `{"channel":`...)
	b = strconv.AppendQuote(b, channel)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	return append(b, '}')
}

// batchRequest asks for the publishes to run in parallel: the default
// (sequential) pays one Redis round trip per item in turn.
func (centrifugo) batchRequest(channels []string, data [][]byte) (string, []byte) {
	var b bytes.Buffer
	b.WriteString(`{"parallel":true,"commands":[`)
	for i := range channels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"publish":`)
		b.Write(centPublishBody(channels[i], data[i]))
		b.WriteByte('}')
	}
	b.WriteString(`]}`)
	return "/api/batch", b.Bytes()
}

func (centrifugo) published(status int, body []byte) bool {
	return status == http.StatusOK && !bytes.Contains(body, []byte(`"error"`))
}

// centBatch is the answer of POST /api/batch.
type centBatch struct {
	Replies []struct {
		Error   json.RawMessage `json:"error"`
		Publish *struct {
			Offset uint64 `json:"offset"`
		} `json:"publish"`
	} `json:"replies"`
}

func (centrifugo) batchPositions(status int, body []byte) ([]string, error) {
	if status != http.StatusOK {
		return nil, fmt.Errorf("publish: batch: status %d: %.200s", status, body)
	}
	var r centBatch
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("publish: batch: %w", err)
	}
	out := make([]string, len(r.Replies))
	for i, x := range r.Replies {
		if x.Publish != nil && len(x.Error) == 0 {
			out[i] = strconv.FormatUint(x.Publish.Offset, 10)
		}
	}
	return out, nil
}

func (centrifugo) setAuth(req *http.Request, apiKey string) { req.Header.Set("X-API-Key", apiKey) }

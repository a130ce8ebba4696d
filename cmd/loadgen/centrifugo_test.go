package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// centPushFor is a publication push as Centrifugo writes it.
func centPushFor(channel string, data []byte, offset int) string {
	return `{"push":{"channel":"` + channel + `","pub":{"data":` + string(data) + `,"offset":` + strconv.Itoa(offset) + `}}}`
}

func TestCentDispatchPushes(t *testing.T) {
	frame := centPushFor("room:1", makeData(11, 3, 64), 7) + "\n" +
		centPushFor("room:1", makeData(12, 3, 300), 8) + "\n" +
		`{"push":{"channel":"room:1","join":{"info":{"user":"u"}}}}` + "\n" +
		centPushFor("room:1", []byte(`{"other":1}`), 9)
	type got struct {
		id      string
		t       int64
		step    int
		hasData bool
	}
	var alarms []got
	reply, err := centrifugo{}.dispatch([]byte(frame), time.Now(), handler{
		Alarm: func(a benchAlarm, _ time.Time) { alarms = append(alarms, got{string(a.ID), a.T, a.Step, a.T != 0}) },
	})
	if err != nil || reply != nil {
		t.Fatalf("dispatch: reply %q err %v", reply, err)
	}
	want := []got{{"7", 11, 3, true}, {"8", 12, 3, true}, {"9", 0, 0, false}}
	if !reflect.DeepEqual(alarms, want) {
		t.Errorf("alarms %+v, want %+v", alarms, want)
	}
}

func TestCentDispatchPing(t *testing.T) {
	tests := []struct {
		frame string
		pong  bool
	}{
		{`{}`, true},
		{centPushFor("room:1", makeData(1, 0, 64), 1) + "\n{}", true},
		{centPushFor("room:1", makeData(1, 0, 64), 1), false},
	}
	for _, tt := range tests {
		reply, err := centrifugo{}.dispatch([]byte(tt.frame), time.Now(), handler{})
		if err != nil || (reply != nil) != tt.pong || (tt.pong && string(reply) != "{}") {
			t.Errorf("dispatch(%.40q) = %q, %v; want pong %v", tt.frame, reply, err, tt.pong)
		}
	}
}

func TestCentDispatchConnectReply(t *testing.T) {
	tests := []struct {
		name   string
		reply  string
		want   welcome
		alarms []string
	}{
		{
			name:  "fresh",
			reply: `{"id":1,"connect":{"client":"c1","version":"6.9.1","subs":{"user:s0":{"recoverable":true,"epoch":"EP","offset":4,"positioned":true}},"ping":25,"pong":true}}`,
			want:  welcome{Position: "4", Epoch: "EP", Status: "new"},
		},
		{
			name: "recovered",
			reply: `{"id":1,"connect":{"client":"c1","subs":{"user:s0":{"recoverable":true,"epoch":"EP","offset":6,"recovered":true,"was_recovering":true,"publications":[` +
				`{"data":` + string(makeData(5, 0, 64)) + `,"offset":5},{"data":` + string(makeData(6, 0, 64)) + `,"offset":6}]}}}}`,
			want:   welcome{Position: "6", Epoch: "EP", Status: "resumed", Replayed: 2},
			alarms: []string{"5@5", "6@6"},
		},
		{
			name:  "not recovered",
			reply: `{"id":1,"connect":{"subs":{"user:s0":{"epoch":"EP2","offset":9,"was_recovering":true}}}}`,
			want:  welcome{Position: "9", Epoch: "EP2", Status: "expired"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w *welcome
			var alarms []string
			_, err := centrifugo{}.dispatch([]byte(tt.reply), time.Now(), handler{
				Welcome: func(x welcome, _ time.Time) { w = &x },
				Alarm: func(a benchAlarm, _ time.Time) {
					if w == nil {
						t.Error("alarm before the welcome")
					}
					alarms = append(alarms, string(a.ID)+"@"+strconv.Itoa(int(a.T)))
				},
			})
			if err != nil || w == nil || *w != tt.want {
				t.Fatalf("welcome %+v err %v, want %+v", w, err, tt.want)
			}
			if !reflect.DeepEqual(alarms, tt.alarms) {
				t.Errorf("alarms %v, want %v", alarms, tt.alarms)
			}
		})
	}
}

func TestCentDispatchErrors(t *testing.T) {
	for _, frame := range []string{`{"id":1,"error":{"code":109,"message":"token expired"}}`, `{"id":1,"connect":`} {
		_, err := centrifugo{}.dispatch([]byte(frame), time.Now(), handler{})
		if !errors.Is(err, errCentReply) {
			t.Errorf("dispatch(%q) err = %v, want errCentReply", frame, err)
		}
	}
}

func TestCentHello(t *testing.T) {
	var fresh, resume map[string]any
	if err := json.Unmarshal(centrifugo{}.hello("TOK", nil), &fresh); err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"id": 1.0, "connect": map[string]any{"token": "TOK"}}; !reflect.DeepEqual(fresh, want) {
		t.Errorf("hello = %v, want %v", fresh, want)
	}
	b := centrifugo{}.hello("TOK", &resumeFrom{Channel: "user:s1", Position: "12", Epoch: "EP"})
	if err := json.Unmarshal(b, &resume); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"id": 1.0, "connect": map[string]any{"token": "TOK",
		"subs": map[string]any{"user:s1": map[string]any{"recover": true, "offset": 12.0, "epoch": "EP"}}}}
	if !reflect.DeepEqual(resume, want) {
		t.Errorf("hello = %v, want %v", resume, want)
	}
}

func TestCentTokens(t *testing.T) {
	toks, err := centrifugo{}.tokens("secret-0123456789", "l", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	shared, err := centrifugo{}.tokens("secret-0123456789", "f", 1, []string{"room:1"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tok, sub string
		channels []any
	}{
		{toks[0], "l0", []any{"user:l0"}},
		{toks[1], "l1", []any{"user:l1"}},
		{shared[0], "f0", []any{"room:1"}},
	}
	for _, tt := range tests {
		claims := jwt.MapClaims{}
		_, err := jwt.ParseWithClaims(tt.tok, claims, func(*jwt.Token) (any, error) { return []byte("secret-0123456789"), nil },
			jwt.WithValidMethods([]string{"HS256"}), jwt.WithExpirationRequired())
		if err != nil || claims["sub"] != tt.sub || !reflect.DeepEqual(claims["channels"], tt.channels) {
			t.Errorf("token claims %v err %v, want sub %s channels %v", claims, err, tt.sub, tt.channels)
		}
	}
}

func TestCentPublish(t *testing.T) {
	k := centrifugo{}
	path, body := k.publishRequest("user:l1", []byte(`{"t":1}`))
	if path != "/api/publish" || string(body) != `{"channel":"user:l1","data":{"t":1}}` {
		t.Errorf("publish %s %s", path, body)
	}
	path, body = k.batchRequest([]string{"a:1", "a:2"}, [][]byte{[]byte(`1`), []byte(`2`)})
	if path != "/api/batch" || string(body) != `{"parallel":true,"commands":[{"publish":{"channel":"a:1","data":1}},{"publish":{"channel":"a:2","data":2}}]}` {
		t.Errorf("batch %s %s", path, body)
	}
	if !k.published(200, []byte(`{"result":{"offset":1,"epoch":"x"}}`)) || k.published(200, []byte(`{"error":{"code":102}}`)) || k.published(401, nil) {
		t.Error("published wrong")
	}
	pos, err := k.batchPositions(200, []byte(`{"replies":[{"publish":{"offset":2,"epoch":"e"}},{"error":{"code":102,"message":"unknown channel"}},{"publish":{}}]}`))
	if err != nil || !reflect.DeepEqual(pos, []string{"2", "", "0"}) {
		t.Errorf("batchPositions = %q, %v", pos, err)
	}
	if _, err := k.batchPositions(http.StatusUnauthorized, nil); err == nil {
		t.Error("batchPositions accepted a 401")
	}
}

func TestParsePosition(t *testing.T) {
	tests := []struct {
		in   string
		want alarmID
		ok   bool
	}{
		{"1732530000000-3", alarmID{1732530000000, 3}, true},
		{"17", alarmID{0, 17}, true},
		{"0", alarmID{}, true},
		{"", alarmID{}, false},
		{"17x", alarmID{}, false},
		{"x-1", alarmID{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePosition([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("parsePosition(%q) = %v %v", tt.in, got, ok)
		}
	}
}

func TestPeerConfig(t *testing.T) {
	b, err := peerConfig{Port: 18001, Node: "lg-2", RedisURL: "redis://127.0.0.1:7000", Secret: "S", APIKey: "K",
		HistorySize: 1000, HistoryTTL: time.Hour}.json()
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	history := map[string]any{"history_size": 1000.0, "history_ttl": "1h0m0s", "force_recovery": true}
	checks := map[string]any{
		"http_server.port":                    18001.0,
		"http_server.address":                 "127.0.0.1",
		"node.name":                           "lg-2",
		"engine.type":                         "redis",
		"engine.redis.address":                []any{"redis://127.0.0.1:7000"},
		"client.token.hmac_secret_key":        "S",
		"client.allowed_origins":              []any{"*"},
		"http_api.key":                        "K",
		"health.enabled":                      true,
		"channel.without_namespace":           history,
		"channel.namespaces.0.name":           "user",
		"channel.namespaces.1.name":           "room",
		"channel.namespaces.2.name":           "bench",
		"channel.namespaces.2.history_size":   1000.0,
		"channel.namespaces.0.force_recovery": true,
	}
	for path, want := range checks {
		if got := lookup(cfg, path); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %v, want %v", path, got, want)
		}
	}
	b, err = peerConfig{Port: 1, RedisURL: "redis://x:1"}.json()
	if err != nil || strings.Contains(string(b), "history") || strings.Contains(string(b), "recovery") {
		t.Errorf("no history: %s %v", b, err)
	}
}

// lookup follows a dotted path through maps and (by index) slices.
func lookup(v any, path string) any {
	for k := range strings.SplitSeq(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i := 0
			for _, c := range k {
				i = i*10 + int(c-'0')
			}
			if i >= len(x) {
				return nil
			}
			v = x[i]
		default:
			return nil
		}
	}
	return v
}

func TestModuleVersion(t *testing.T) {
	out := "/bin/centrifugo: go1.26.8\n\tpath\tgithub.com/centrifugal/centrifugo/v6\n\tmod\tgithub.com/centrifugal/centrifugo/v6\tv6.9.1\th1:abc=\n\tdep\tgithub.com/x/y\tv1.0.0\n"
	if got := moduleVersion(out, "github.com/centrifugal/centrifugo/"); got != "v6.9.1" {
		t.Errorf("moduleVersion = %q", got)
	}
	if got := moduleVersion("garbage", "github.com/centrifugal/centrifugo/"); got != "unknown" {
		t.Errorf("moduleVersion = %q", got)
	}
}

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		ok   bool
	}{
		{"alarmgate", []string{"alarmgate"}, true},
		{"both", []string{"alarmgate", "centrifugo"}, true},
		{"centrifugo,alarmgate", []string{"centrifugo", "alarmgate"}, true},
		{"nats", nil, false},
	}
	for _, tt := range tests {
		ks, err := parseTargets(tt.in)
		var names []string
		for _, k := range ks {
			names = append(names, k.Name())
		}
		if (err == nil) != tt.ok || !reflect.DeepEqual(names, tt.want) {
			t.Errorf("parseTargets(%q) = %v, %v", tt.in, names, err)
		}
	}
}

package stream

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/alarmgate/alarmgate/internal/alarm"
	"github.com/alarmgate/alarmgate/internal/testproc"
	"github.com/alarmgate/alarmgate/internal/testutil"
	"github.com/alarmgate/alarmgate/protocol"
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{}) // unreachable-server tests would flood the output
	goleak.VerifyTestMain(m)
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}

// backend names a Redis to test against; every test that does not depend
// on Redis 7 XINFO fields runs on both.
type backend struct {
	name string
	real bool
}

var backends = []backend{{"redis", true}, {"miniredis", false}}

// testClient returns a client for the backend, closed at cleanup.
func testClient(t testing.TB, b backend) redis.UniversalClient {
	t.Helper()
	addr := testproc.RedisAddr()
	if !b.real {
		addr = miniredis.RunT(t).Addr()
	}
	rdb := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("redis at %s is required for this test (CI runs one): %v", addr, err)
	}
	return rdb
}

// newTestStore returns a Store with a unique prefix on backend b; its keys
// are deleted at cleanup (testutil.Prefix).
func newTestStore(t testing.TB, b backend, cfg Config) (*Store, redis.UniversalClient) {
	t.Helper()
	rdb := testClient(t, b)
	cfg.Prefix = testutil.Prefix(t)
	s, err := New(cfg, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s, rdb
}

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// publishN publishes n alarms cycling over channels and returns them.
func publishN(t testing.TB, s *Store, n int, channels ...string) []PublishResult {
	t.Helper()
	if len(channels) == 0 {
		channels = []string{"user:1"}
	}
	out := make([]PublishResult, n)
	for i := range n {
		r, err := s.Publish(testCtx(t), PublishInput{
			Channel: channels[i%len(channels)], Event: "e", Data: []byte(`{"i":` + strconv.Itoa(i) + `}`)})
		if err != nil {
			t.Fatalf("publish %d: %v", i, err)
		}
		out[i] = r
	}
	return out
}

// allIDs reads every id in the stream directly.
func allIDs(t testing.TB, rdb redis.UniversalClient, key string) []protocol.ID {
	t.Helper()
	msgs, err := rdb.XRange(testCtx(t), key, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]protocol.ID, len(msgs))
	for i, m := range msgs {
		ids[i] = protocol.MustParseID(m.ID)
	}
	return ids
}

func entryIDs(es []alarm.Entry) []protocol.ID {
	ids := make([]protocol.ID, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

package stream

import (
	"bufio"
	"context"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisWork runs fn and returns the work Redis did on the keys of s's
// prefix meanwhile, as MONITOR shows it (scripts' commands included): one
// per command, plus what each command that reads many elements may read
// (a range without LIMIT: the whole collection, as it is after fn). It
// counts work, not time, so it is the same on a loaded machine; it needs
// the real Redis (miniredis has no MONITOR).
func redisWork(t *testing.T, rdb redis.UniversalClient, s *Store, fn func()) int {
	t.Helper()
	tag := "{" + s.cfg.Prefix + "}"
	c, ok := rdb.(*redis.Client)
	if !ok {
		t.Fatalf("redisWork needs a *redis.Client, not %T", rdb)
	}
	conn, err := net.DialTimeout("tcp", c.Options().Addr, 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	lines, done := make(chan string, 1<<16), make(chan struct{})
	defer close(done)
	go func() { // ends when conn is closed or done
		defer close(lines)
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-done:
				return
			}
		}
	}()
	marker := tag + ":work-marker"
	// MONITOR starts asynchronously: wait until it shows a first marker.
	waitMarker(t, rdb, lines, marker, "start")
	fn()
	var cmds [][]string
	for _, l := range waitMarker(t, rdb, lines, marker, "end") {
		if args := monitorArgs(l); len(args) > 1 && strings.Contains(l, tag) && !strings.HasPrefix(strings.ToUpper(args[0]), "EVAL") {
			cmds = append(cmds, args)
		}
	}
	work := 0
	for _, c := range cmds {
		work += 1 + elementsRead(t, rdb, c)
	}
	return work
}

// waitMarker sends GET marker:name until MONITOR shows it and returns the
// lines before it.
func waitMarker(t *testing.T, rdb redis.UniversalClient, lines <-chan string, marker, name string) []string {
	t.Helper()
	key := marker + ":" + name
	var before []string
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	rdb.Get(context.Background(), key)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("MONITOR ended")
			}
			if strings.Contains(l, `"`+key+`"`) {
				return before
			}
			before = append(before, l)
		case <-tick.C:
			rdb.Get(context.Background(), key)
		case <-deadline:
			t.Fatal("MONITOR shows nothing")
		}
	}
}

// monitorArgs splits one MONITOR line into the command's arguments.
func monitorArgs(l string) []string {
	i := strings.IndexByte(l, '"')
	if i < 0 {
		return nil
	}
	var args []string
	for rest := l[i:]; rest != ""; {
		rest = strings.TrimLeft(rest, " ")
		if rest == "" || rest[0] != '"' {
			break
		}
		var b strings.Builder
		j := 1
		for ; j < len(rest) && rest[j] != '"'; j++ {
			if rest[j] == '\\' && j+1 < len(rest) {
				j++
			}
			b.WriteByte(rest[j])
		}
		args = append(args, b.String())
		rest = rest[min(j+1, len(rest)):]
	}
	return args
}

// elementsRead is how many elements command c may read besides its own
// arguments: a lexicographic range what it holds, another range or
// whole-collection read without LIMIT its collection (their sizes after
// the call), a LIMIT its count, a multi-field read its fields.
func elementsRead(t *testing.T, rdb redis.UniversalClient, c []string) int {
	t.Helper()
	ctx := context.Background()
	name := strings.ToUpper(c[0])
	for i, a := range c {
		if strings.EqualFold(a, "LIMIT") && i+2 < len(c) {
			n, _ := strconv.Atoi(c[i+2])
			return n
		}
	}
	switch name {
	case "HGETALL", "HKEYS", "HVALS":
		return int(rdb.HLen(ctx, c[1]).Val())
	case "LRANGE":
		n := int(rdb.LLen(ctx, c[1]).Val())
		lo, _ := strconv.Atoi(c[2])
		hi, _ := strconv.Atoi(c[3])
		if lo < 0 {
			lo += n
		}
		if hi < 0 {
			hi += n
		}
		return max(0, min(hi, n-1)-max(lo, 0)+1)
	case "ZRANGE", "ZRANGEBYLEX", "ZREVRANGEBYLEX":
		lo, hi := c[2], c[3]
		if name == "ZREVRANGEBYLEX" || slices.ContainsFunc(c, func(a string) bool { return strings.EqualFold(a, "REV") }) {
			lo, hi = hi, lo
		}
		if name != "ZRANGE" || slices.ContainsFunc(c, func(a string) bool { return strings.EqualFold(a, "BYLEX") }) {
			return int(rdb.ZLexCount(ctx, c[1], lo, hi).Val())
		}
		return int(rdb.ZCard(ctx, c[1]).Val())
	case "ZRANGEBYSCORE", "ZREVRANGEBYSCORE", "ZREVRANGE":
		return int(rdb.ZCard(ctx, c[1]).Val())
	case "SMEMBERS":
		return int(rdb.SCard(ctx, c[1]).Val())
	case "HMGET", "ZMSCORE":
		return len(c) - 2
	}
	return 0
}

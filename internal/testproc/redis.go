package testproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// RedisAddrEnv names the variable that overrides RedisAddr.
const RedisAddrEnv = "GATEWAY_TEST_REDIS"

// DefaultRedisAddr is the shared test Redis when RedisAddrEnv is unset.
const DefaultRedisAddr = "127.0.0.1:6379"

// RedisAddr returns the host:port of the shared Redis that in-process
// tests use (each with its own key prefix): $GATEWAY_TEST_REDIS, or
// DefaultRedisAddr.
func RedisAddr() string {
	if a := os.Getenv(RedisAddrEnv); a != "" {
		return a
	}
	return DefaultRedisAddr
}

// RedisOptions configure a private redis-server.
type RedisOptions struct {
	Port int    // 0: a free port
	Dir  string // working directory (AOF files); required
	// AOF turns on appendonly with appendfsync always; off, the server
	// persists nothing (no RDB snapshots either).
	AOF bool
	// Args are extra command-line arguments, e.g. "--maxclients", "10000".
	Args []string
}

// Redis is a private redis-server on 127.0.0.1. Start it with Start, then
// WaitPing; it can be killed and started again on the same port and dir.
type Redis struct {
	*Proc
	Addr string // 127.0.0.1:port
}

// NewRedis prepares a redis-server (found in PATH) named "redis"; set the
// Proc's log fields before Start.
func NewRedis(o RedisOptions) (*Redis, error) {
	if o.Dir == "" {
		return nil, errors.New("testproc: RedisOptions.Dir is required")
	}
	if o.Port == 0 {
		p, err := FreePort()
		if err != nil {
			return nil, err
		}
		o.Port = p
	}
	args := []string{"redis-server", "--port", strconv.Itoa(o.Port), "--bind", "127.0.0.1",
		"--save", "", "--dir", o.Dir, "--logfile", "", "--protected-mode", "no"}
	if o.AOF {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	args = append(args, o.Args...)
	return &Redis{Proc: &Proc{Name: "redis", Argv: args}, Addr: "127.0.0.1:" + strconv.Itoa(o.Port)}, nil
}

// URL returns the redis:// URL of database 0.
func (r *Redis) URL() string { return "redis://" + r.Addr + "/0" }

// WaitPing polls PING until the server answers +PONG (a server loading its
// AOF answers -LOADING), for at most limit. Its error carries the log tail.
func (r *Redis) WaitPing(ctx context.Context, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	exited := r.Exited()
	for {
		err := Ping(ctx, r.Addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("redis not answering: %w (last: %v)\n%s", ctx.Err(), err, r.LogTail(20))
		case <-exited:
			return fmt.Errorf("redis exited while starting:\n%s", r.LogTail(20))
		case <-time.After(30 * time.Millisecond):
		}
	}
}

// Ping sends one PING to the Redis at addr (without authentication) and
// reports an error unless it answers +PONG within 500ms.
func Ping(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	_ = c.SetDeadline(deadline)
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/alarmgate/alarmgate/client"
	"github.com/alarmgate/alarmgate/internal/auth"
	"github.com/alarmgate/alarmgate/protocol"
)

func cmdPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("publish", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "http://127.0.0.1:8080", "gateway base URL")
	key := fs.String("key", os.Getenv("GATEWAY_API_KEY"), "API key (default $GATEWAY_API_KEY)")
	channel := fs.String("channel", "user:demo", "channel")
	event := fs.String("event", "test", "event name")
	data := fs.String("data", "null", "data as JSON")
	idem := fs.String("idempotency-key", "", "Idempotency-Key (optional)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if !json.Valid([]byte(*data)) {
		return errors.New("publish: -data is not valid JSON")
	}
	p := &client.Publisher{BaseURL: *url, APIKey: *key}
	res, err := p.Publish(ctx, *channel, *event, json.RawMessage(*data), *idem)
	if err != nil {
		return fmt.Errorf("publish: %w", err)
	}
	return json.NewEncoder(stdout).Encode(res)
}

func cmdTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	urls := fs.String("url", "ws://127.0.0.1:8080/v1/ws", "comma-separated WebSocket URLs")
	token := fs.String("token", os.Getenv("GATEWAY_TOKEN"), "client token (default $GATEWAY_TOKEN)")
	lastID := fs.String("last-id", "", "resume after this id")
	epoch := fs.String("epoch", "", "epoch of -last-id")
	inbox := fs.Bool("inbox", false, "keep the user's inbox too and print its counts as they move")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *token == "" {
		return errors.New("tail: -token or $GATEWAY_TOKEN is required")
	}
	c, err := client.New(client.Config{
		Endpoints: strings.Split(*urls, ","), LastID: *lastID, Epoch: *epoch,
		Token: func(context.Context) (string, error) { return *token, nil },
	})
	if err != nil {
		return fmt.Errorf("tail: %w", err)
	}
	out := &countsPrinter{w: stdout}
	if *inbox {
		if out.view, err = client.NewInboxView(c, client.InboxViewConfig{}); err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		defer out.watch(stderr)()
	}
	enc := json.NewEncoder(stdout)
	err = c.Run(ctx, client.Handler{
		Alarm: func(a client.Alarm) { out.after(func() { _ = enc.Encode(a) }) },
		State: func(st client.State) { out.after(func() { _ = enc.Encode(st) }) },
		Welcome: func(w client.Welcome) {
			fmt.Fprintf(stderr, "connected to %s: %s (replayed %d) position %s epoch %s\n",
				w.Node, w.Status, w.Replayed, w.Position, w.Epoch)
			out.after(nil)
		},
		Disconnect: func(d client.Disconnect) {
			fmt.Fprintf(stderr, "disconnected: code %d %s %v\n", d.Code, d.Reason, d.Err)
		},
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("tail: %w", err)
	}
	return nil
}

// countsPrinter writes tail's stdout: each line from Run's goroutine,
// then, with -inbox, the inbox's counts when they moved, as
// "inbox: unread N unseen M". Its mutex orders the lines of Run's
// goroutine and of the view's changes (the first page, loaded apart).
type countsPrinter struct {
	w    io.Writer
	view *client.InboxView // nil without -inbox

	mu      sync.Mutex // guards w's writes and last
	last    protocol.Counts
	printed bool
}

// after runs write (if not nil), then prints the counts if they moved.
func (p *countsPrinter) after(write func()) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if write != nil {
		write()
	}
	if p.view == nil {
		return
	}
	if c := p.view.Counts(); !p.printed || c != p.last {
		p.last, p.printed = c, true
		fmt.Fprintf(p.w, "inbox: unread %d unseen %d\n", c.Unread, c.Unseen)
	}
}

// watch prints the counts after each page load (the alarms' and state
// events' counts follow their lines) and load errors on stderr until the
// returned func closes the view.
func (p *countsPrinter) watch(stderr io.Writer) (stop func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ch := range p.view.Changes() {
			if ch.Err != nil {
				fmt.Fprintf(stderr, "inbox: %v\n", ch.Err)
			}
			if ch.Kind == client.ChangeLoaded || ch.Kind == client.ChangeMore {
				p.after(nil)
			}
		}
	}()
	return func() {
		p.view.Close()
		<-done
	}
}

func cmdToken(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sub := fs.String("sub", "demo", "subject: the token grants channel user:<sub>")
	channels := fs.String("channels", "", "comma-separated extra channels")
	ttl := fs.Duration("ttl", time.Hour, "lifetime (0: no expiry)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	secret := os.Getenv("GATEWAY_JWT_SECRET")
	if secret == "" {
		return errors.New("token: GATEWAY_JWT_SECRET must be set")
	}
	v, err := auth.NewVerifier(auth.VerifierConfig{Secret: []byte(secret)})
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	var extra []string
	if *channels != "" {
		extra = strings.Split(*channels, ",")
	}
	tok, err := v.Issue(*sub, extra, *ttl)
	if err != nil {
		return fmt.Errorf("token: %w", err)
	}
	fmt.Fprintln(stdout, tok)
	return nil
}

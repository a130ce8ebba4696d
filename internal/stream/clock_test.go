package stream

import (
	"context"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/alarmgate/alarmgate/protocol"
)

// TestResumeAcrossClockStepBack: when Redis' clock steps back, the log's
// ids keep increasing (XADD never goes below the newest id), so they run
// ahead of the clock the backlogs' TTLs and floors are counted on. A
// resume must still never answer complete across an alarm it lost: an
// expired backlog is complete only when no alarm after the position can
// have been in it. On miniredis, whose clock the test moves: Y, the alarm
// after the position X, must be read back or the page be incomplete.
func TestResumeAcrossClockStepBack(t *testing.T) {
	const retention = time.Hour
	for _, ch := range []string{"grp:1", "user:1"} {
		for _, tc := range []struct {
			name string
			// run publishes X and Y on ch (in between, and after, it moves
			// the clock) and returns X's id.
			run func(c *clock, ch string) protocol.ID
		}{
			{"step back before Y, backlog expired", func(c *clock, ch string) protocol.ID {
				x := c.publish(ch)
				c.step(-30 * time.Minute)
				c.publish(ch) // Y: id at X's ms, ahead of the clock
				c.advance(retention + time.Second)
				return x
			}},
			{"step back before Y, a new backlog since", func(c *clock, ch string) protocol.ID {
				x := c.publish(ch)
				c.step(-30 * time.Minute)
				c.publish(ch)
				c.advance(retention + time.Second)
				c.publish(ch) // Z starts a new backlog
				return x
			}},
			{"step back after the backlog expired", func(c *clock, ch string) protocol.ID {
				x := c.publish(ch)
				c.advance(10 * time.Minute)
				c.publish(ch)
				c.advance(retention + time.Second)
				c.publish("grp:other") // the log's newest id is now past the expiry
				c.step(-20 * time.Minute)
				return x
			}},
			{"step back after the backlog expired, a new backlog since", func(c *clock, ch string) protocol.ID {
				x := c.publish(ch)
				c.advance(10 * time.Minute)
				c.publish(ch)
				c.advance(retention + time.Second)
				c.publish("grp:other")
				c.step(-20 * time.Minute)
				c.publish(ch)
				return x
			}},
		} {
			t.Run(ch+"/"+tc.name, func(t *testing.T) {
				c := newClock(t, Config{Prefix: "clock", Retention: retention, InboxRetention: retention})
				x := tc.run(c, ch)
				res, err := c.s.ReadBacklogs(c.ctx, []BacklogRead{{Channel: ch, After: x}}, 0)
				if err != nil {
					t.Fatal(err)
				}
				p := res.Pages[0]
				var alarms []protocol.ID
				for _, a := range p.Alarms {
					if a.ID.Compare(x) > 0 {
						alarms = append(alarms, a.ID)
					}
				}
				if p.Complete && (len(alarms) == 0 || alarms[0] != c.ids[ch][1]) {
					t.Fatalf("resume after %s: complete with %v, but %s (Y) is not there", x, alarms, c.ids[ch][1])
				}
			})
		}
	}
}

// clock is a Store on miniredis whose clock a test moves.
type clock struct {
	t   *testing.T
	m   *miniredis.Miniredis
	s   *Store
	ctx context.Context
	now time.Time
	ids map[string][]protocol.ID // per channel, the ids published
}

func newClock(t *testing.T, cfg Config) *clock {
	t.Helper()
	m := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	t.Cleanup(func() { _ = rdb.Close() })
	s, err := New(cfg, rdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: t, m: m, s: s, ctx: testCtx(t), now: time.Now(), ids: map[string][]protocol.ID{}}
	c.step(0)
	return c
}

// step sets Redis' clock d later (earlier when negative) without moving
// its TTLs: a step of the wall clock.
func (c *clock) step(d time.Duration) {
	c.t.Helper()
	c.now = c.now.Add(d)
	c.m.SetTime(c.now)
	if _, err := c.s.Tip(c.ctx); err != nil { // measures the clock offset
		c.t.Fatal(err)
	}
}

// advance lets d pass: the clock and the TTLs move.
func (c *clock) advance(d time.Duration) {
	c.t.Helper()
	c.m.FastForward(d)
	c.step(d)
}

// publish publishes one alarm on ch and returns its id.
func (c *clock) publish(ch string) protocol.ID {
	c.t.Helper()
	res, err := c.s.Publish(c.ctx, PublishInput{Channel: ch, Event: "e"})
	if err != nil {
		c.t.Fatal(err)
	}
	c.ids[ch] = append(c.ids[ch], res.ID)
	return res.ID
}

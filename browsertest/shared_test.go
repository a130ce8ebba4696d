package browsertest

import (
	"strings"
	"testing"
)

// TestSharedModeThreeTabs opens three tabs of one browser context (one
// origin: they share Web Locks, BroadcastChannel and localStorage) with
// shared: true. The server must see exactly one connection; every tab
// gets every alarm once. Then the leader tab is closed (another takes
// over and resumes from the shared position) and the new leader's node
// is SIGKILLed: the two remaining tabs still get every alarm exactly
// once, in order, over one connection. It runs over both transports.
func TestSharedModeThreeTabs(t *testing.T) {
	for _, tc := range []struct{ transport, started string }{
		{"websocket", `msg="ws: session started"`},
		{"sse", `msg="sse: stream started"`},
	} {
		t.Run(tc.transport, func(t *testing.T) { testSharedMode(t, tc.transport, tc.started) })
	}
}

// testSharedMode is TestSharedModeThreeTabs over transport; started is
// the node log line of a connection's welcome.
func testSharedMode(t *testing.T, transport, started string) {
	c := setupClients(t)
	for _, name := range []string{"tab1", "tab2", "tab3"} {
		c.open(name, tabOptions{transport: transport, shared: true})
	}
	for _, tb := range c.tabs {
		c.waitTab(tb, "open with a role", func(s tabState) bool { return s.State == "open" && s.Role != "" })
	}
	leader := c.leader("three tabs")
	c.waitConnections("alarmgate_connections", 1)
	c.waitConnections("alarmgate_transport_connections", 1)
	c.publish(c.nodes[0], 3)
	c.publish(c.nodes[1], 2)
	c.waitAll("live alarms in every tab")

	// The leader tab closes: another takes over (alarms published meanwhile
	// come by its resume or live).
	leader.close()
	c.publish(c.nodes[1], 3)
	c.waitAll("after the leader tab closed")
	leader = c.leader("two tabs after the leader closed")

	// Its node dies: the leader resumes on the other one.
	s, err := leader.read()
	if err != nil {
		t.Fatal(err)
	}
	dead := c.node(s.Node)
	dead.Kill()
	c.publish(c.other(dead), 5)
	c.waitAll("after SIGKILL of node " + dead.Name)
	c.leader("two tabs after the kill")
	c.waitConnections("alarmgate_connections", 1)
	c.waitConnections("alarmgate_transport_connections", 1)
	// Over the whole test only leaders connected: the first, the one that
	// took over, and its reconnect after the kill.
	if n := c.logCount(started); n != 3 {
		t.Fatalf("%d connections started in all, want 3 (one per leader connection)\n%s", n, c.dump())
	}
	t.Logf("%d alarms, each received once, in order, in every remaining tab", len(c.sent))
}

// leader waits until exactly one open tab leads and the others follow,
// and returns the leader.
func (c *clients) leader(what string) *tab {
	c.t.Helper()
	var lead *tab
	for _, tb := range c.tabs {
		if tb.closed {
			continue
		}
		s := c.waitTab(tb, what+": a role", func(s tabState) bool { return s.Role == "leader" || s.Role == "follower" })
		if s.Role == "leader" {
			if lead != nil {
				c.t.Fatalf("%s: tabs %s and %s both lead\n%s", what, lead.name, tb.name, c.dump())
			}
			lead = tb
		}
	}
	if lead == nil {
		c.t.Fatalf("%s: no tab leads\n%s", what, c.dump())
	}
	return lead
}

// logCount counts the lines of every node's log (all incarnations) that
// contain substr.
func (c *clients) logCount(substr string) int {
	n := 0
	for _, g := range c.nodes {
		n += strings.Count(g.LogTail(1<<30), substr)
	}
	return n
}

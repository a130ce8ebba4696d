package browsertest

import (
	"testing"
	"time"

	"github.com/alarmgate/alarmgate/internal/testproc"
)

// TestSSEClientKillAndRollingRestart runs client.js with transport 'sse'
// (EventSource, tickets fetched cross-origin) against nodes A and B: the
// node it streams from is SIGKILLed while alarms are published through
// the other, then every node is SIGTERMed and restarted in turn with
// alarms before, during and after each drain. After each step the page
// must hold every published alarm exactly once, in id order, and the
// server must count its stream as one SSE connection.
func TestSSEClientKillAndRollingRestart(t *testing.T) {
	c := setupClients(t)
	tb := c.open("sse", tabOptions{transport: "sse"})
	s := c.waitTab(tb, "stream open", func(s tabState) bool { return s.State == "open" })
	c.waitConnections(`alarmgate_transport_connections{transport="sse"}`, 1)
	c.publish(c.nodes[0], 3)
	c.publish(c.nodes[1], 3)
	c.waitAll("live alarms")

	// SIGKILL: the stream breaks; the page resumes on the other node.
	dead := c.node(s.Node)
	dead.Kill()
	c.publish(c.other(dead), 5)
	s = c.waitAll("after SIGKILL of node " + dead.Name)[0]
	t.Logf("after the kill: on node %s, %d alarms replayed so far", s.Node, s.Replayed)
	c.restart(dead)

	// Rolling restart: the page's node first, so it moves at every step.
	for round, n := range []*testproc.Gateway{c.node(s.Node), c.other(c.node(s.Node))} {
		c.rollOne(round, n)
		s = c.waitAll("after SIGTERM of node " + n.Name)[0]
		if s.Node == n.Name {
			t.Fatalf("round %d: the page is on node %s, which was restarted: it should have moved\n%s", round, n.Name, c.dump())
		}
		c.restart(n)
	}
	c.publish(c.nodes[0], 2)
	c.waitAll("after the rolling restart")
	c.waitConnections(`alarmgate_transport_connections{transport="sse"}`, 1)
	c.waitConnections(`alarmgate_transport_connections{transport="ws"}`, 0)
	t.Logf("%d alarms, each received once, in order, across a SIGKILL and a rolling restart over SSE", len(c.sent))
}

// rollOne publishes through the other node before, during and after
// SIGTERM of n, which must exit 0 after ending its streams with 1012.
func (c *clients) rollOne(round int, n *testproc.Gateway) {
	c.t.Helper()
	other := c.other(n)
	c.publish(other, 2)
	type exit struct {
		code int
		took time.Duration
		err  error
	}
	done := make(chan exit, 1)
	go func() {
		code, took, err := n.Terminate(tabWait)
		done <- exit{code, took, err}
	}()
	c.publish(other, 2) // during the drain
	e := <-done
	if e.err != nil || e.code != 0 {
		c.t.Fatalf("round %d: SIGTERM of %s: exit %d after %v: %v\n%s", round, n.Name, e.code, e.took, e.err, c.dump())
	}
	c.publish(other, 2) // while it is down
}

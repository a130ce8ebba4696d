// Package browsertest drives the demo page (web/static) and its JavaScript
// client in a real headless Chromium against two gateway processes on their
// own Redis: live delivery, failover after SIGKILL with resume, and reload;
// the SSE transport across a SIGKILL and a rolling restart; and shared mode
// across three tabs (one connection, a leader change, a node kill).
package browsertest

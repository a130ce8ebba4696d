// Package browsertest drives the demo page (web/static) and its JavaScript
// client in a real headless Chromium against two gateway processes on their
// own Redis: live delivery, failover after SIGKILL with resume, and reload.
package browsertest

// Command loadgen measures the alarm gateway from the outside: it starts its
// own redis-server and gateway processes (or targets running ones), drives
// WebSocket receivers and HTTP publishers over the public protocol only, and
// prints a table and one machine-readable RESULT line per run.
package main

// Package alarm owns the vocabulary every other package shares: alarm ids
// (Redis Stream entry ids), channel and event validation, and the single
// encoding of an alarm as a wire frame, done once and shared by all
// connections.
package alarm

// Package alarm validates channels and events and owns the single
// encoding of an alarm as a wire frame, done once and shared by all
// connections. Alarm ids and the message shapes live in package protocol.
package alarm

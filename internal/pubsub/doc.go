// Package pubsub owns a node's live feed: it keeps the subscription alive
// (recreating it when its own probe stops coming back), loads the window
// at start, fills gaps from the stream, applies alarms to the hub strictly
// in id order and detects a lost or rolled-back history. It is pure logic
// over a Store: every Redis call and every key and channel name lives in
// internal/stream.
package pubsub

// Package pubsub owns a node's live feed: the Pub/Sub subscription and its
// reconnects, loading the window at start, filling gaps from the stream,
// applying alarms to the hub strictly in id order, the liveness probe and
// the detection of a lost or rolled-back history.
package pubsub

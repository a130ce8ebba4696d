package stream

import (
	"strconv"
	"time"
)

// The Redis layout of one partition of one Prefix. Every key and channel
// name the gateway uses is built here and nowhere else. All of them share
// the partition's hash tag, so they sit in one Cluster slot and
// publish.lua stays atomic. With one partition (Config.Partitions 1, the
// default) the tag is {prefix}, as in the table. With P partitions,
// partition k's tag is {prefix/P/k/s} instead (s a salt that spreads the
// P tags evenly over the Cluster's slots: partitionTag), and each
// partition has every key and channel of the table under its own tag: its
// own log, epoch, live channel, backlogs, inboxes and ingest stream. An
// inbox channel's keys are in its partition only (PartitionOf); a shared
// channel has a backlog in every partition, the Router (router.go)
// appending each of its alarms to every partition's log.
//
//	name                          type     role
//	{prefix}:stream               stream   the log; fields c (channel), t (the
//	                                       encoded alarm without its id) and p (the
//	                                       id of the entry before it, "0-0" for none;
//	                                       absent in entries of older versions);
//	                                       trimmed by MAXLEN ~ and MINID ~ on each
//	                                       publish
//	{prefix}:epoch                string   the current epoch; SET NX when absent,
//	                                       replaced by compare-and-set (rotateLua)
//	                                       when a node finds the log lost
//	{prefix}:idem:<key>           string   idempotency record -> "<alarm id>\n<hash
//	                                       of the alarm>" (older records: the id
//	                                       only), expires after IdemTTL
//	{prefix}:iidem:<entry id>     string   the idempotency record of an ingest
//	                                       entry without a key of its own (as
//	                                       idem:, in a namespace no idempotency
//	                                       key can name); deleted when the entry
//	                                       is acknowledged, else expires after
//	                                       IdemTTL. With P partitions it is
//	                                       iidem:<k>:<entry id>, k the partition
//	                                       whose ingest stream holds the entry,
//	                                       under the tag of the partition the
//	                                       alarm is published in (every one for
//	                                       a shared channel): two partitions'
//	                                       streams can hold the same id
//	{prefix}:idem                 (none)   placeholder passed to publish.lua when a
//	                                       publish has no idempotency key; never
//	                                       written, it only names the slot
//	{prefix}:req:<token>          string   one publish call's token -> alarm id,
//	                                       written by publish.lua so that a re-run
//	                                       of the same call (go-redis retries a
//	                                       command whose reply was lost) returns
//	                                       the first run's id; expires a second
//	                                       after the call's deadline
//	{prefix}:ch:<channel>         list     the channel's backlog: its floor (the
//	                                       highest id that may be missing), then
//	                                       "<id>\n<tail>" for its newest
//	                                       ChannelBacklog alarms (an inbox: "<id>"
//	                                       alone, its tail being in ib); expires
//	                                       after Retention without a publish (an
//	                                       inbox: InboxRetention, see inbox.lua)
//	{prefix}:ib:<channel>         hash     an inbox's alarms (channel user:<sub>):
//	                                       "<id>" -> tail (inbox.lua)
//	{prefix}:ix:<channel>         zset     an inbox's index: "<class><id in fixed
//	                                       width>" per alarm, scores 0 (inbox.lua)
//	{prefix}:se:<channel>         list     an inbox's recent state events: its
//	                                       floor, then "<id>\n<tail>" for its
//	                                       newest StateEvents events; ch, ib, ix
//	                                       and se expire together after
//	                                       InboxRetention without a publish or
//	                                       change; written by publish.lua and
//	                                       state.lua
//	{prefix}:live                 channel  every accepted alarm as
//	                                       "<epoch>\n<p>\n<alarm message>", p as
//	                                       in the stream (publish.lua)
//	{prefix}:live:probe:<node>    channel  a node's liveness probe, published and
//	                                       received by that node only
//	{prefix}:ingest               stream   alarms applications XADD (fields
//	                                       channel, event, data, idempotency_key);
//	                                       consumed by the group "gateways"
//	                                       (internal/ingest), trimmed only behind
//	                                       what the group acknowledged
//	{prefix}:ingest:dead          stream   ingest entries refused: the original
//	                                       fields plus reason and id (MAXLEN ~)
//	{prefix}:ingest:lease         string   the node consuming the ingest stream
//	                                       -> "<node>:<token>", SET NX PX and
//	                                       renewed by its holder
//
// One key belongs to the deployment rather than to a partition, and is
// always under the one-partition tag {prefix}:
//
//	{prefix}:layout               string   the number of partitions of a
//	                                       deployment of several, SET NX by its
//	                                       first node (CheckLayout); absent with one
type keys struct {
	stream        string // {prefix}:stream
	epoch         string // {prefix}:epoch
	idemPrefix    string // {prefix}:idem: (followed by the idempotency key)
	idemNone      string // {prefix}:idem
	live          string // {prefix}:live
	backlogPrefix string // {prefix}:ch: (followed by the channel)
	reqPrefix     string // {prefix}:req: (followed by a request token)
	ibPrefix      string // {prefix}:ib: (followed by an inbox channel)
	ixPrefix      string // {prefix}:ix: (followed by an inbox channel)
	sePrefix      string // {prefix}:se: (followed by an inbox channel)
	ingest        IngestKeys
}

// IngestKeys names the keys of the ingest stream (see keys).
type IngestKeys struct {
	Stream string // {prefix}:ingest
	Dead   string // {prefix}:ingest:dead
	Lease  string // {prefix}:ingest:lease
	// Idem starts the idempotency record of an entry without a key of its
	// own: {prefix}:iidem: (followed by the entry id).
	Idem string
}

// newKeys names the layout under tag, a hash tag with its braces
// (partitionTag).
func newKeys(tag string) keys {
	return keys{
		stream:        tag + ":stream",
		epoch:         tag + ":epoch",
		idemPrefix:    tag + ":idem:",
		idemNone:      tag + ":idem",
		live:          tag + ":live",
		backlogPrefix: tag + ":ch:",
		reqPrefix:     tag + ":req:",
		ibPrefix:      tag + ":ib:",
		ixPrefix:      tag + ":ix:",
		sePrefix:      tag + ":se:",
		ingest: IngestKeys{
			Stream: tag + ":ingest",
			Dead:   tag + ":ingest:dead",
			Lease:  tag + ":ingest:lease",
			Idem:   tag + ":iidem:",
		},
	}
}

// layoutKeys returns the key that records a deployment's number of
// partitions, {prefix}:layout, and the log of the one-partition layout,
// {prefix}:stream, under the one-partition tag (whatever this Store's).
func (s *Store) layoutKeys() (layout, single string) {
	tag := "{" + s.cfg.Prefix + "}"
	return tag + ":layout", newKeys(tag).stream
}

// idem returns the idempotency record key of idemKey.
func (k keys) idem(idemKey string) string { return k.idemPrefix + idemKey }

// entryIdem returns the key, under k's tag, of the idempotency record of
// the entry id of partition src's ingest stream, in a deployment of
// partitions partitions: Idem + id with one partition (the layout of
// earlier versions), Idem + "<src>:" + id with more, since the streams of
// two partitions can hold the same id and publish into one partition.
func (k IngestKeys) entryIdem(partitions, src int, id string) string {
	if partitions <= 1 {
		return k.Idem + id
	}
	return k.Idem + strconv.Itoa(src) + ":" + id
}

// request returns the token record key of one publish call.
func (k keys) request(token string) string { return k.reqPrefix + token }

// backlog returns the key of channel c's backlog.
func (k keys) backlog(c string) string { return k.backlogPrefix + c }

// inbox returns the keys of inbox channel c besides its list: ix, ib, se.
func (k keys) inbox(c string) (ix, ib, se string) {
	return k.ixPrefix + c, k.ibPrefix + c, k.sePrefix + c
}

// probe returns the probe channel of node nodeID.
func (k keys) probe(nodeID string) string { return k.live + ":probe:" + nodeID }

// LiveChannel returns the Pub/Sub channel every accepted alarm is
// published on: "{prefix}:live".
func (s *Store) LiveChannel() string { return s.keys.live }

// ProbeChannel returns node nodeID's probe channel:
// "{prefix}:live:probe:<nodeID>".
func (s *Store) ProbeChannel(nodeID string) string { return s.keys.probe(nodeID) }

// Partition returns the partition this Store serves (Config.Partition).
func (s *Store) Partition() int { return s.cfg.Partition }

// Partitions returns the number of partitions of the deployment
// (Config.Partitions after defaults).
func (s *Store) Partitions() int { return s.cfg.Partitions }

// HashTag returns the hash tag every key and channel of this Store starts
// with, braces included: "{prefix}" with one partition, else
// "{prefix/P/k/s}" (partitionTag).
func (s *Store) HashTag() string { return s.tag }

// ShardedPubSub reports whether the live and probe channels use sharded
// Pub/Sub (SPUBLISH, SSUBSCRIBE): Config.ShardedPubSub.
func (s *Store) ShardedPubSub() bool { return s.cfg.ShardedPubSub }

// StreamKey returns the key of the alarm stream: "{prefix}:stream".
func (s *Store) StreamKey() string { return s.keys.stream }

// EpochKey returns the key holding the epoch: "{prefix}:epoch".
func (s *Store) EpochKey() string { return s.keys.epoch }

// IngestKeys returns the keys of the ingest stream: "{prefix}:ingest",
// "{prefix}:ingest:dead", "{prefix}:ingest:lease" and the prefix of its
// entries' idempotency records, "{prefix}:iidem:".
func (s *Store) IngestKeys() IngestKeys { return s.keys.ingest }

// Timeout returns the bound of one Redis call (Config.Timeout after
// defaults).
func (s *Store) Timeout() time.Duration { return s.cfg.Timeout }

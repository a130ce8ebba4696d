package stream

// The Redis layout of one Prefix. Every key and channel name the gateway
// uses is built here and nowhere else. All of them share the hash tag
// {prefix}, so they sit in one Cluster slot and publish.lua stays atomic.
//
//	name                          type     role
//	{prefix}:stream               stream   the log; fields c (channel) and t (the
//	                                       encoded alarm without its id); trimmed by
//	                                       MAXLEN ~ and MINID ~ on each publish
//	{prefix}:epoch                string   the current epoch; SET NX when absent,
//	                                       replaced by compare-and-set (rotateLua)
//	                                       when a node finds the history lost
//	{prefix}:idem:<key>           string   idempotency record -> alarm id, expires
//	                                       after IdemTTL
//	{prefix}:idem                 (none)   placeholder passed to publish.lua when a
//	                                       publish has no idempotency key; never
//	                                       written, it only names the slot
//	{prefix}:ch:<channel>         list     the channel's history: its floor (the
//	                                       highest id that may be missing), then
//	                                       "<id>\n<tail>" for its newest
//	                                       ChannelHistory alarms; expires after
//	                                       Retention without a publish
//	{prefix}:live                 channel  every accepted alarm as
//	                                       "<epoch>\n<alarm message>" (publish.lua)
//	{prefix}:live:probe:<node>    channel  a node's liveness probe, published and
//	                                       received by that node only
type keys struct {
	stream     string // {prefix}:stream
	epoch      string // {prefix}:epoch
	idemPrefix string // {prefix}:idem: (followed by the idempotency key)
	idemNone   string // {prefix}:idem
	live       string // {prefix}:live
	chanPrefix string // {prefix}:ch: (followed by the channel)
}

// newKeys names the layout of prefix (already validated).
func newKeys(prefix string) keys {
	tag := "{" + prefix + "}"
	return keys{
		stream:     tag + ":stream",
		epoch:      tag + ":epoch",
		idemPrefix: tag + ":idem:",
		idemNone:   tag + ":idem",
		live:       tag + ":live",
		chanPrefix: tag + ":ch:",
	}
}

// idem returns the idempotency record key of idemKey.
func (k keys) idem(idemKey string) string { return k.idemPrefix + idemKey }

// channel returns the history key of channel c.
func (k keys) channel(c string) string { return k.chanPrefix + c }

// probe returns the probe channel of node nodeID.
func (k keys) probe(nodeID string) string { return k.live + ":probe:" + nodeID }

// LiveChannel returns the Pub/Sub channel every accepted alarm is
// published on: "{prefix}:live".
func (s *Store) LiveChannel() string { return s.keys.live }

// ProbeChannel returns node nodeID's probe channel:
// "{prefix}:live:probe:<nodeID>".
func (s *Store) ProbeChannel(nodeID string) string { return s.keys.probe(nodeID) }

// StreamKey returns the key of the alarm stream: "{prefix}:stream".
func (s *Store) StreamKey() string { return s.keys.stream }

// EpochKey returns the key holding the epoch: "{prefix}:epoch".
func (s *Store) EpochKey() string { return s.keys.epoch }

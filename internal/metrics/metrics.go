// Package metrics owns the gateway's Prometheus metrics: one struct of
// collectors, registered on a registry the caller provides, so tests and
// several in-process nodes never share global state.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every collector of one gateway node. The zero value is not
// usable; call New. All methods of the collectors are safe for concurrent use.
type Metrics struct {
	Connections    prometheus.Gauge
	Transport      *prometheus.GaugeVec   // transport: ws, sse
	Published      *prometheus.CounterVec // result: created, replayed, error
	PublishLatency prometheus.Histogram
	Delivered      prometheus.Counter
	Replayed       prometheus.Counter
	ResumeStatus   *prometheus.CounterVec // status
	ResumeSource   *prometheus.CounterVec // source: window, redis
	BacklogReads   prometheus.Counter
	GapFills       prometheus.Counter
	GapFilled      prometheus.Counter
	SlowCloses     prometheus.Counter
	Closes         *prometheus.CounterVec // code
	Applied        prometheus.Counter
	Duplicates     prometheus.Counter
	Resubscribes   prometheus.Counter
	EpochRotations prometheus.Counter
	WindowSize     prometheus.Gauge
	Ready          prometheus.Gauge
	HTTPRequests   *prometheus.CounterVec // route, code
	Limited        *prometheus.CounterVec // limit: connections, connect_rate, publish_rate, state_rate, inbox_read_rate
	ConnSlots      *prometheus.GaugeVec   // transport: ws, sse
	ConnsRefused   *prometheus.CounterVec // reason: connections, connect_rate; transport: ws, sse
	StateCoalesced prometheus.Counter
	DeliveryLag    prometheus.Histogram
	Ingest         Ingest
}

// Ingest holds the collectors of the ingest stream consumer.
type Ingest struct {
	Lag         prometheus.Gauge       // entries not yet delivered to the group, summed over the partitions
	Pending     prometheus.Gauge       // entries delivered but not acknowledged, summed over the partitions
	Leader      prometheus.Gauge       // the ingest leases this node holds (one partition: 1 or 0)
	Claimed     prometheus.Counter     // entries taken over from another consumer
	DeadLetters *prometheus.CounterVec // reason
	Alarms      *prometheus.CounterVec // result: created, replayed
	PubSub      *prometheus.CounterVec // result: forwarded, dropped, error
}

// newIngest creates the ingest collectors.
func newIngest() Ingest {
	return Ingest{
		Lag: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alarmgate_ingest_lag", Help: "Ingest stream entries not yet delivered to the gateways group (XINFO GROUPS lag), sampled every few seconds; with partitions, the sum over their ingest streams."}),
		Pending: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alarmgate_ingest_pending", Help: "Ingest entries delivered to a gateway but not yet acknowledged; with partitions, the sum over their ingest streams."}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alarmgate_ingest_leader", Help: "Ingest leases this node holds: 1 while it consumes the ingest stream; with partitions, how many partitions' streams it consumes."}),
		Claimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_ingest_claimed_total", Help: "Ingest entries claimed from another (dead or stuck) consumer."}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_ingest_dead_letters_total", Help: "Ingest entries moved to the dead-letter stream, by reason."}, []string{"reason"}),
		Alarms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_ingested_total", Help: "Ingest entries published, by result (created; replayed: already published before)."}, []string{"result"}),
		PubSub: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_ingest_pubsub_total", Help: "Messages of the migration Pub/Sub channel, by result (forwarded, dropped: not the lease holder or malformed, error)."}, []string{"result"}),
	}
}

func (i Ingest) collectors() []prometheus.Collector {
	return []prometheus.Collector{i.Lag, i.Pending, i.Leader, i.Claimed, i.DeadLetters, i.Alarms, i.PubSub}
}

// Values of the Limited metric's limit label.
const (
	LimitConnections   = "connections"
	LimitConnectRate   = "connect_rate"
	LimitPublishRate   = "publish_rate"
	LimitStateRate     = "state_rate"
	LimitInboxReadRate = "inbox_read_rate"
)

// New creates the collectors and registers them on reg. A nil reg creates a
// private registry (useful in tests).
func New(reg prometheus.Registerer) *Metrics {
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Metrics{
		Connections: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alarmgate_connections", Help: "Open connections (WebSocket and SSE) registered with the hub."}),
		Transport: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "alarmgate_transport_connections", Help: "Open connections past their welcome, by transport (ws, sse)."}, []string{"transport"}),
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_published_total", Help: "Publish attempts by result (created, replayed, error)."}, []string{"result"}),
		PublishLatency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "alarmgate_publish_seconds", Help: "Time to append and broadcast one alarm.",
			Buckets: []float64{.0002, .0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}),
		Delivered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_delivered_total", Help: "Live alarms queued to connections."}),
		Replayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_replayed_total", Help: "Alarms replayed to resuming connections."}),
		ResumeStatus: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_resume_total", Help: "Welcomes sent, by resume status."}, []string{"status"}),
		ResumeSource: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_resume_source_total", Help: "Resumes with a last_id, by where they were answered from (window, redis)."}, []string{"source"}),
		BacklogReads: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_history_reads_total", Help: "Redis round trips (one script each) made for resumes beyond the window: reads of the channel backlogs."}),
		GapFills: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_gap_fills_total", Help: "Stream reads that found alarms Pub/Sub had not delivered."}),
		GapFilled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_gap_filled_alarms_total", Help: "Alarms applied from the stream rather than Pub/Sub."}),
		SlowCloses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_slow_consumer_closes_total", Help: "Connections closed with 4029."}),
		Closes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_closes_total", Help: "Connections closed by the server, by close code."}, []string{"code"}),
		Applied: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_applied_total", Help: "Alarms applied to this node's window."}),
		Duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_feed_duplicates_total", Help: "Feed messages dropped as at or below the applied id."}),
		Resubscribes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_resubscribes_total", Help: "Pub/Sub (re)subscriptions."}),
		EpochRotations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_epoch_changes_total", Help: "Log resets observed (epoch changed)."}),
		WindowSize: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alarmgate_window_alarms", Help: "Alarms held in the in-memory window."}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "alarmgate_ready", Help: "1 when the node reports ready."}),
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_http_requests_total", Help: "API requests by route and status code."}, []string{"route", "code"}),
		Limited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_limited_total", Help: "Requests refused by a limit (connections, connect_rate, publish_rate, state_rate, inbox_read_rate)."}, []string{"limit"}),
		ConnSlots: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "alarmgate_connection_slots", Help: "Connections holding a slot of the node's connection cap (GATEWAY_MAX_CONNECTIONS), from admission to their end, handshakes included, by transport (ws, sse)."}, []string{"transport"}),
		ConnsRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "alarmgate_connections_refused_total", Help: "Connections refused before they started, by reason (connections: the node's cap; connect_rate: the source address's rate) and transport (ws, sse)."}, []string{"reason", "transport"}),
		StateCoalesced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "alarmgate_state_coalesced_total", Help: "State changes answered without a Redis call of their own: they joined an identical change of the same user waiting for its turn."}),
		DeliveryLag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "alarmgate_delivery_lag_seconds", Help: "Time from an alarm's ts (Redis accepted it) to the write of the WebSocket frame carrying it; observed once per frame, for its newest alarm.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}}),
		Ingest: newIngest(),
	}
	reg.MustRegister(m.Connections, m.Transport, m.Published, m.PublishLatency, m.Delivered, m.Replayed,
		m.ResumeStatus, m.ResumeSource, m.BacklogReads, m.GapFills, m.GapFilled, m.SlowCloses, m.Closes, m.Applied, m.Duplicates,
		m.Resubscribes, m.EpochRotations, m.WindowSize, m.Ready, m.HTTPRequests, m.Limited, m.DeliveryLag,
		m.ConnSlots, m.ConnsRefused, m.StateCoalesced)
	reg.MustRegister(m.Ingest.collectors()...)
	return m
}

// GaugeShare is one owner's part of a gauge that several owners add up
// to, as the hubs and ingest consumers of a node's partitions do: Set
// adds the change of the owner's value, so the gauge is the sum of the
// parts. It is not safe for concurrent use: its owner guards it.
type GaugeShare struct {
	g prometheus.Gauge
	v float64
}

// NewGaugeShare returns a share of g, at 0.
func NewGaugeShare(g prometheus.Gauge) GaugeShare { return GaugeShare{g: g} }

// Set makes the owner's part v.
func (s *GaugeShare) Set(v float64) {
	if v != s.v {
		s.g.Add(v - s.v)
		s.v = v
	}
}

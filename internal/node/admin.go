package node

import (
	"encoding/json"
	"net/http"
	"net/http/pprof"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyDetail is the JSON answer of the admin listener's /readyz/detail:
// what Ready is made of. Its embedded PartitionDetail is partition 0's,
// the only one unless the deployment has more.
type ReadyDetail struct {
	Ready    bool `json:"ready"`
	Draining bool `json:"draining"`
	// Layout is false until the node has found Redis' partition layout to
	// be its own.
	Layout bool `json:"layout"`
	PartitionDetail
	// Partitions holds every partition's PartitionDetail, partition k at
	// index k, when the deployment has more than one.
	Partitions []PartitionDetail `json:"partitions,omitempty"`
}

// PartitionDetail is one partition's readiness inputs.
type PartitionDetail struct {
	Loaded     bool `json:"loaded"`
	Subscribed bool `json:"subscribed"`
	CaughtUp   bool `json:"caught_up"`
	// LastProbeAgeSeconds is the time since the node's own probe came
	// back; -1 if it never did.
	LastProbeAgeSeconds float64 `json:"last_probe_age_seconds"`
	Epoch               string  `json:"epoch"`
	Applied             string  `json:"applied"`
	Window              int     `json:"window"`
}

// ReadyDetail returns the node's readiness inputs.
func (n *Node) ReadyDetail() ReadyDetail {
	parts := make([]PartitionDetail, len(n.parts))
	for k, p := range n.parts {
		st := p.feed.Status()
		parts[k] = PartitionDetail{Loaded: st.Loaded, Subscribed: st.Subscribed, CaughtUp: st.CaughtUp,
			LastProbeAgeSeconds: -1, Epoch: st.Epoch, Applied: st.Applied.String(), Window: p.hub.Len()}
		if st.LastProbeAge >= 0 {
			parts[k].LastProbeAgeSeconds = st.LastProbeAge.Seconds()
		}
	}
	d := ReadyDetail{Ready: n.Ready(), Draining: n.draining.Load(), Layout: n.layout.Load(), PartitionDetail: parts[0]}
	if len(parts) > 1 {
		d.Partitions = parts
	}
	return d
}

// AdminHandler returns the operator routes, for a listener of their own
// (GATEWAY_ADMIN_ADDR): /metrics, /readyz/detail (JSON, 503 when not
// ready) and /healthz; not pprof (RegisterPprof adds it where asked).
// With Config.Admin set, Handler serves none of them but /healthz.
func (n *Node) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(n.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz/detail", func(w http.ResponseWriter, _ *http.Request) {
		d := n.ReadyDetail()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if !d.Ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_ = json.NewEncoder(w).Encode(d)
	})
	return mux
}

// RegisterPprof adds net/http/pprof's handlers under /debug/pprof/.
func RegisterPprof(mux *http.ServeMux) {
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}

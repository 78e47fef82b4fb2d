package bridge

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// runState is the stage of Run.
type runState int32

const (
	stateNew runState = iota
	stateStarting
	stateConsuming
	stateDraining
	stateStopped
	stateFailed
)

func (s runState) String() string {
	return [...]string{"not started", "starting", "consuming", "draining", "stopped", "failed"}[s]
}

// readyPingTimeout bounds the Kafka round trip of a /readyz request.
const readyPingTimeout = 2 * time.Second

// Handler returns an http.Handler for the bridge's operational endpoints:
//
//   - /metrics: reg in the Prometheus text format. Register the bridge's
//     metrics in reg with reg.MustRegister(b.Collector()).
//   - /healthz: 200 unless Run failed, for a liveness check that restarts
//     the process.
//   - /readyz: 200 while Run consumes and a Kafka broker responds within
//     2 s, else 503; it turns 503 when the drain begins.
//
// Each response body names the state of Run.
func (b *Bridge) Handler(reg *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		state := runState(b.state.Load())
		if state == stateFailed {
			http.Error(w, "bridge "+state.String(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok: bridge %s\n", state)
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		state := runState(b.state.Load())
		if state != stateConsuming {
			http.Error(w, "not ready: bridge "+state.String(), http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyPingTimeout)
		defer cancel()
		if err := b.client.Ping(ctx); err != nil {
			http.Error(w, "not ready: Kafka ping failed: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintf(w, "ok: bridge %s\n", state)
	})
	return mux
}

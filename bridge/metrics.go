package bridge

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the bridge's Prometheus metrics, on a registry of its own.
type metrics struct {
	reg           *prometheus.Registry
	messages      *prometheus.CounterVec
	entries       *prometheus.CounterVec
	signals       *prometheus.CounterVec
	signalErrors  *prometheus.CounterVec
	signalSeconds prometheus.Histogram
	committed     *prometheus.GaugeVec
	lag           *prometheus.GaugeVec
	backlog       *prometheus.GaugeVec
	paused        *prometheus.GaugeVec
	claimed       prometheus.Gauge
	malformed     prometheus.Counter
	// ready is true while the bridge is in a consumer group session.
	ready atomic.Bool
}

func newMetrics() *metrics {
	byPart := []string{"partition"}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_bridge_messages_total",
			Help: "Kafka messages consumed."}, byPart),
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_bridge_entries_signaled_total",
			Help: "Entries accepted by partition workflows."}, byPart),
		signals: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_bridge_signals_total",
			Help: "Signals (batches of entries) accepted by Temporal."}, byPart),
		signalErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_bridge_signal_errors_total",
			Help: "Signals Temporal did not accept (retried)."}, byPart),
		signalSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "backbeat_bridge_signal_seconds",
			Help: "Time to have one batch accepted.", Buckets: prometheus.ExponentialBuckets(0.001, 2, 14)}),
		committed: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_bridge_marked_offset",
			Help: "Newest Kafka offset marked for commit (its entries are in Temporal)."}, byPart),
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_bridge_lag",
			Help: "Messages in the partition after the newest one consumed."}, byPart),
		backlog: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_bridge_workflow_backlog",
			Help: "Entries queued in the partition workflow (last status query)."}, byPart),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_bridge_partition_paused",
			Help: "1 while the partition is paused by backpressure."}, byPart),
		claimed: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backbeat_bridge_claimed_partitions",
			Help: "Partitions this bridge consumes."}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_bridge_malformed_messages_total",
			Help: "Kafka messages that are not journal records (logged, not replicated)."}),
	}
	m.reg.MustRegister(m.messages, m.entries, m.signals, m.signalErrors, m.signalSeconds, m.committed,
		m.lag, m.backlog, m.paused, m.claimed, m.malformed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// handler serves /metrics and /healthz.
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if !m.ready.Load() {
			http.Error(w, "not consuming: waiting for Kafka or Temporal (see the logs)", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	})
	return mux
}

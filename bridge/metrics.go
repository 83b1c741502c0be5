package bridge

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
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
	stuck         prometheus.Gauge
	rejoins       prometheus.Counter
	malformed     prometheus.Counter
	// workflow are the partition workflows' own counters (contract.Counters).
	workflow *prometheus.GaugeVec
	// inFlight is the age of the phase of each workflow's oldest entry in flight.
	inFlight *prometheus.GaugeVec
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
		stuck: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backbeat_bridge_stuck_partitions",
			Help: "Partitions whose entries no live bridge consumes (the watchdog's last check)."}),
		rejoins: prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_bridge_group_rejoins_total",
			Help: "Times the watchdog left and rejoined the consumer group to force a rebalance."}),
		malformed: prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_bridge_malformed_messages_total",
			Help: "Kafka messages that are not journal records (logged, not replicated)."}),
		workflow: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_workflow_counter",
			Help: "A partition workflow's counter since its first run (completed, failed, skipped, duplicates, misrouted, " +
				"status_errors, bytes), as of the bridge's last status query of the partition (made while it sends entries)."},
			[]string{"partition", "counter"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "backbeat_workflow_in_flight_seconds",
			Help: "How long the partition workflow's oldest entry in flight has been in its phase (replicate or set-status, " +
				"retries included); 0 when none is in flight. As of the bridge's last status query."}, byPart),
	}
	m.reg.MustRegister(m.messages, m.entries, m.signals, m.signalErrors, m.signalSeconds, m.committed,
		m.lag, m.backlog, m.paused, m.claimed, m.stuck, m.rejoins, m.malformed, m.workflow, m.inFlight,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// claim makes the series of a newly claimed partition that would otherwise appear only
// at their first change (not paused, no signal error yet), so that dashboards and alerts
// see them.
func (m *metrics) claim(partition int32) {
	p := strconv.Itoa(int(partition))
	m.paused.WithLabelValues(p).Set(0)
	m.signalErrors.WithLabelValues(p)
}

// workflowStatus exports a partition workflow's status answer, received at now: its
// counters and the age of its oldest entry in flight.
func (m *metrics) workflowStatus(partition int32, st contract.Status, now time.Time) {
	p := strconv.Itoa(int(partition))
	age := 0.0
	if st.Current != nil && !st.Current.Since.IsZero() {
		age = max(now.Sub(st.Current.Since).Seconds(), 0)
	}
	m.inFlight.WithLabelValues(p).Set(age)
	c := st.Counters
	for name, v := range map[string]int64{"completed": c.Completed, "failed": c.Failed, "skipped": c.Skipped,
		"duplicates": c.Duplicates, "misrouted": c.Misrouted, "status_errors": c.StatusErrors, "bytes": c.Bytes} {
		m.workflow.WithLabelValues(p, name).Set(float64(v))
	}
}

// handler serves /metrics and /healthz: deps are the dependencies' checks (Kafka,
// Temporal); /healthz adds "consuming" (in a consumer group session) and answers 503
// when one fails.
func (m *metrics) handler(deps ...metricsserver.Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", &metricsserver.Health{Checks: append(deps, metricsserver.Check{Name: "consuming",
		Probe: metricsserver.FlagProbe(m.ready.Load, "not in a consumer group session: waiting for Kafka (see the logs)")})})
	return mux
}

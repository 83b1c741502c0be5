package ingest

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are ingest's Prometheus series, on a registry of its own.
type metrics struct {
	reg        *prometheus.Registry
	readOffset prometheus.Gauge
	head       prometheus.Gauge
	lag        prometheus.Gauge
	leader     prometheus.Gauge
	records    prometheus.Counter
	messages   prometheus.Counter
	bytes      prometheus.Counter
	errors     *prometheus.CounterVec

	mu        sync.Mutex
	state     string // "starting", "standby", "leader"
	lastErr   string
	lastErrAt time.Time
	lastOK    time.Time
}

func newMetrics() *metrics {
	m := &metrics{
		reg:        prometheus.NewRegistry(),
		readOffset: prometheus.NewGauge(prometheus.GaugeOpts{Name: "backbeat_ingest_read_offset", Help: "Journal seq up to which records are in Kafka (the offset stored in ZooKeeper)."}),
		head:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "backbeat_ingest_journal_head", Help: "Last seq written to the journal, as last seen."}),
		lag:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "backbeat_ingest_lag", Help: "Journal records not yet in Kafka (head - read offset)."}),
		leader:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "backbeat_ingest_leader", Help: "1 while this process is the active ingest of the journal."}),
		records:    prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_ingest_records_read_total", Help: "Journal records read."}),
		messages:   prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_ingest_messages_produced_total", Help: "PENDING entries produced to Kafka."}),
		bytes:      prometheus.NewCounter(prometheus.CounterOpts{Name: "backbeat_ingest_bytes_produced_total", Help: "Bytes (keys and values) produced to Kafka."}),
		errors:     prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_ingest_errors_total", Help: "Errors by stage: journal, malformed, kafka, zookeeper."}, []string{"stage"}),
		state:      "starting",
	}
	m.reg.MustRegister(m.readOffset, m.head, m.lag, m.leader, m.records, m.messages, m.bytes, m.errors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range []string{"journal", "malformed", "kafka", "zookeeper"} {
		m.errors.WithLabelValues(s)
	}
	return m
}

func (m *metrics) setState(s string) {
	m.mu.Lock()
	m.state = s
	m.mu.Unlock()
	if s == "leader" {
		m.leader.Set(1)
	} else {
		m.leader.Set(0)
	}
}

func (m *metrics) fail(stage string, err error) {
	m.errors.WithLabelValues(stage).Inc()
	m.mu.Lock()
	m.lastErr, m.lastErrAt = err.Error(), time.Now()
	m.mu.Unlock()
}

func (m *metrics) ok(offset, head uint64) {
	m.readOffset.Set(float64(offset))
	m.head.Set(float64(head))
	if head >= offset {
		m.lag.Set(float64(head - offset))
	}
	m.mu.Lock()
	m.lastOK = time.Now()
	m.mu.Unlock()
}

// handler serves /metrics and /healthz. /healthz answers 200 unless the last attempt
// failed (then 503), with a JSON body: state, last error.
func (m *metrics) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		m.mu.Lock()
		failing := !m.lastErrAt.IsZero() && m.lastErrAt.After(m.lastOK)
		body := map[string]any{"state": m.state, "healthy": !failing}
		if m.lastErr != "" {
			body["lastError"] = m.lastErr
			body["lastErrorAt"] = m.lastErrAt
		}
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if failing {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(body)
	})
	return mux
}

package ingest

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
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

// stage is the "stage" label of backbeat_ingest_errors_total: where an error came from.
type stage string

// The stages of backbeat_ingest_errors_total.
const (
	stageJournal   stage = "journal"   // reading the journal route
	stageMalformed stage = "malformed" // a journal line that is not a record
	stageKafka     stage = "kafka"     // producing to Kafka
	stageZooKeeper stage = "zookeeper" // the lock or the offset in ZooKeeper
)

func (m *metrics) fail(st stage, err error) {
	m.errors.WithLabelValues(string(st)).Inc()
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

// handler serves /metrics and /healthz. deps are the dependencies' checks (s3server,
// Kafka, ZooKeeper); /healthz adds "ingest" (the last attempt did not fail) and answers
// 503 when one fails, with a JSON body: healthy, checks, state, last error.
func (m *metrics) handler(deps ...metricsserver.Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", &metricsserver.Health{
		Checks: append(deps, metricsserver.Check{Name: "ingest", Probe: func(context.Context) error {
			m.mu.Lock()
			defer m.mu.Unlock()
			if !m.lastErrAt.IsZero() && m.lastErrAt.After(m.lastOK) {
				return fmt.Errorf("last attempt failed at %s: %s", m.lastErrAt.Format(time.RFC3339), m.lastErr)
			}
			return nil
		}}),
		Extra: func() map[string]any {
			m.mu.Lock()
			defer m.mu.Unlock()
			body := map[string]any{"state": m.state}
			if m.lastErr != "" {
				body["lastError"] = m.lastErr
				body["lastErrorAt"] = m.lastErrAt
			}
			return body
		},
	})
	return mux
}

package worker

import (
	"maps"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// sdkLabels are the Temporal SDK metric tags kept as Prometheus labels; other tags are
// dropped so that every metric name has one fixed label set, as Prometheus requires.
var sdkLabels = []string{"namespace", "task_queue", "workflow_type", "activity_type", "worker_type", "poller_type", "operation"}

// sdkMetrics is a client.MetricsHandler that exports the Temporal SDK's metrics
// (temporal_request_total, temporal_activity_execution_latency_seconds...) to a
// Prometheus registry.
type sdkMetrics struct {
	reg  *prometheus.Registry
	tags map[string]string
	vecs *sdkVecs
}

type sdkVecs struct {
	mu       sync.Mutex
	counters map[string]*prometheus.CounterVec
	gauges   map[string]*prometheus.GaugeVec
	timers   map[string]*prometheus.HistogramVec
}

func newSDKMetrics(reg *prometheus.Registry) *sdkMetrics {
	return &sdkMetrics{reg: reg, tags: map[string]string{}, vecs: &sdkVecs{
		counters: map[string]*prometheus.CounterVec{},
		gauges:   map[string]*prometheus.GaugeVec{},
		timers:   map[string]*prometheus.HistogramVec{},
	}}
}

// WithTags returns a handler whose metrics carry tags too.
func (h *sdkMetrics) WithTags(tags map[string]string) client.MetricsHandler {
	m := maps.Clone(h.tags)
	maps.Copy(m, tags)
	return &sdkMetrics{reg: h.reg, tags: m, vecs: h.vecs}
}

func (h *sdkMetrics) labels() prometheus.Labels {
	l := prometheus.Labels{}
	for _, k := range sdkLabels {
		l[k] = h.tags[k]
	}
	return l
}

func promName(name string) string { return strings.NewReplacer(".", "_", "-", "_").Replace(name) }

// register registers c, or returns the collector already registered under its name.
func (h *sdkMetrics) register(c prometheus.Collector) prometheus.Collector {
	if err := h.reg.Register(c); err != nil {
		if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
			return are.ExistingCollector
		}
		return nil // a name clash with another kind: the metric is dropped
	}
	return c
}

// Counter returns the counter name.
func (h *sdkMetrics) Counter(name string) client.MetricsCounter {
	v := h.vecs
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.counters[name]
	if !ok {
		got := h.register(prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(name) + "_total", Help: "Temporal SDK " + name}, sdkLabels))
		c, _ = got.(*prometheus.CounterVec)
		v.counters[name] = c
	}
	if c == nil {
		return client.MetricsNopHandler.Counter(name)
	}
	return counter{c.With(h.labels())}
}

// Gauge returns the gauge name.
func (h *sdkMetrics) Gauge(name string) client.MetricsGauge {
	v := h.vecs
	v.mu.Lock()
	defer v.mu.Unlock()
	g, ok := v.gauges[name]
	if !ok {
		got := h.register(prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: promName(name), Help: "Temporal SDK " + name}, sdkLabels))
		g, _ = got.(*prometheus.GaugeVec)
		v.gauges[name] = g
	}
	if g == nil {
		return client.MetricsNopHandler.Gauge(name)
	}
	return gauge{g.With(h.labels())}
}

// Timer returns the timer name, a histogram in seconds.
func (h *sdkMetrics) Timer(name string) client.MetricsTimer {
	v := h.vecs
	v.mu.Lock()
	defer v.mu.Unlock()
	t, ok := v.timers[name]
	if !ok {
		got := h.register(prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: promName(name) + "_seconds", Help: "Temporal SDK " + name,
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}, sdkLabels))
		t, _ = got.(*prometheus.HistogramVec)
		v.timers[name] = t
	}
	if t == nil {
		return client.MetricsNopHandler.Timer(name)
	}
	return timer{t.With(h.labels())}
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(n int64) { c.c.Add(float64(n)) }

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ o prometheus.Observer }

func (t timer) Record(d time.Duration) { t.o.Observe(d.Seconds()) }

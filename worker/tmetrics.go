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

// vec returns the collector of name in m, making and registering it with mk the first
// time; ok is false when the name clashes with a metric of another kind (dropped).
func vec[V prometheus.Collector](h *sdkMetrics, m map[string]V, name string, mk func() V) (v V, ok bool) {
	h.vecs.mu.Lock()
	defer h.vecs.mu.Unlock()
	v, found := m[name]
	if !found {
		v, _ = h.register(mk()).(V) // the zero V when dropped, remembered as such
		m[name] = v
	}
	var dropped V
	return v, any(v) != any(dropped)
}

// Counter returns the counter name.
func (h *sdkMetrics) Counter(name string) client.MetricsCounter {
	c, ok := vec(h, h.vecs.counters, name, func() *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: promName(name) + "_total", Help: "Temporal SDK " + name}, sdkLabels)
	})
	if !ok {
		return client.MetricsNopHandler.Counter(name)
	}
	return counter{c.With(h.labels())}
}

// Gauge returns the gauge name.
func (h *sdkMetrics) Gauge(name string) client.MetricsGauge {
	g, ok := vec(h, h.vecs.gauges, name, func() *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: promName(name), Help: "Temporal SDK " + name}, sdkLabels)
	})
	if !ok {
		return client.MetricsNopHandler.Gauge(name)
	}
	return gauge{g.With(h.labels())}
}

// Timer returns the timer name, a histogram in seconds.
func (h *sdkMetrics) Timer(name string) client.MetricsTimer {
	tm, ok := vec(h, h.vecs.timers, name, func() *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: promName(name) + "_seconds", Help: "Temporal SDK " + name,
			Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 14)}, sdkLabels)
	})
	if !ok {
		return client.MetricsNopHandler.Timer(name)
	}
	return timer{tm.With(h.labels())}
}

type counter struct{ c prometheus.Counter }

func (c counter) Inc(n int64) { c.c.Add(float64(n)) }

type gauge struct{ g prometheus.Gauge }

func (g gauge) Update(v float64) { g.g.Set(v) }

type timer struct{ o prometheus.Observer }

func (t timer) Record(d time.Duration) { t.o.Observe(d.Seconds()) }

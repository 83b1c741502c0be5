package starter

import (
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// workerMetrics is a worker's /metrics with these counters and latency buckets
// (cumulative counts of le 0.1, 0.2, 0.4; the count is the +Inf bucket).
func workerMetrics(completed, failed, bytes float64, b01, b02, b04, count int) string {
	return `# TYPE backbeat_worker_statuses_total counter
backbeat_worker_statuses_total{status="COMPLETED"} ` + ftoa(completed) + `
backbeat_worker_statuses_total{status="FAILED"} ` + ftoa(failed) + `
# TYPE backbeat_worker_bytes_total counter
backbeat_worker_bytes_total{site="dr"} ` + ftoa(bytes) + `
# TYPE backbeat_worker_put_to_completed_seconds histogram
backbeat_worker_put_to_completed_seconds_bucket{le="0.1"} ` + itoa(b01) + `
backbeat_worker_put_to_completed_seconds_bucket{le="0.2"} ` + itoa(b02) + `
backbeat_worker_put_to_completed_seconds_bucket{le="0.4"} ` + itoa(b04) + `
backbeat_worker_put_to_completed_seconds_bucket{le="+Inf"} ` + itoa(count) + `
backbeat_worker_put_to_completed_seconds_sum 1
backbeat_worker_put_to_completed_seconds_count ` + itoa(count) + `
`
}

const bridgeMetrics = `# TYPE backbeat_bridge_partition_paused gauge
backbeat_bridge_partition_paused{partition="0"} 0
backbeat_bridge_partition_paused{partition="1"} 1
`

func ftoa(f float64) string { return model.SampleValue(f).String() }
func itoa(i int) string     { return ftoa(float64(i)) }

// sampleOf parses /metrics texts by URL into a sample made at.
func sampleOf(t *testing.T, at time.Time, texts map[string]string) *metricsSample {
	t.Helper()
	s := &metricsSample{at: at, fams: map[string]map[string]*dto.MetricFamily{}}
	for u, text := range texts {
		p := expfmt.NewTextParser(model.UTF8Validation)
		f, err := p.TextToMetricFamilies(strings.NewReader(text))
		require.NoError(t, err)
		s.fams[u] = f
	}
	return s
}

func TestThroughputBetweenTwoScrapes(t *testing.T) {
	t0 := time.Unix(1000, 0)
	prev := sampleOf(t, t0, map[string]string{"w": workerMetrics(10, 1, 1000, 5, 10, 10, 10), "b": bridgeMetrics})
	cur := sampleOf(t, t0.Add(2*time.Second), map[string]string{"w": workerMetrics(30, 1, 5000, 5, 20, 30, 30), "b": bridgeMetrics})
	tp, err := throughput(prev, cur)
	require.NoError(t, err)
	assert.Equal(t, 2.0, tp.WindowSeconds)
	assert.Equal(t, 10.0, tp.CompletedPerSecond, "20 in 2 s")
	assert.Zero(t, tp.FailedPerSecond)
	assert.Equal(t, 2000.0, tp.BytesPerSecond, "4000 bytes in 2 s")
	assert.Equal(t, []string{"b", "w"}, tp.Sources)
	require.NotNil(t, tp.PutToCompleted)
	// The window's 20: 10 in (0.1, 0.2], 10 in (0.2, 0.4]. p50 (rank 10) ends the
	// first; p99 (rank 19.8) is 98 % into the second.
	assert.Equal(t, Latency{P50Seconds: 0.2, P99Seconds: 0.396, Count: 20, Window: LatencyWindow}, roundLatency(*tp.PutToCompleted))
	assert.Equal(t, map[int32]bool{0: false, 1: true}, bridgePaused(cur))

	// Nothing completed in the window: no rate, the percentiles since the start.
	later := sampleOf(t, t0.Add(3*time.Second), map[string]string{"w": workerMetrics(30, 1, 5000, 5, 20, 30, 30)})
	tp, err = throughput(cur, later)
	require.NoError(t, err)
	assert.Zero(t, tp.CompletedPerSecond)
	assert.Zero(t, tp.BytesPerSecond)
	// Since start: 5 <= 0.1, 15 in (0.1, 0.2], 10 in (0.2, 0.4]; p50 (rank 15) is 2/3
	// into the second bucket.
	assert.Equal(t, Latency{P50Seconds: 0.1667, P99Seconds: 0.394, Count: 30, Window: LatencySinceStart}, roundLatency(*tp.PutToCompleted))

	// The worker restarted (its counters reset): what it counted since is the increase.
	restarted := sampleOf(t, t0.Add(4*time.Second), map[string]string{"w": workerMetrics(3, 2, 100, 3, 3, 3, 3)})
	tp, err = throughput(later, restarted)
	require.NoError(t, err)
	assert.Equal(t, 3.0, tp.CompletedPerSecond)
	assert.Equal(t, 1.0, tp.FailedPerSecond, "1 -> 2 looks like an increase (as to Prometheus' rate)")
	assert.Equal(t, LatencyWindow, tp.PutToCompleted.Window)
	assert.Equal(t, uint64(3), tp.PutToCompleted.Count)
}

// roundLatency rounds the percentiles to 0.1 ms.
func roundLatency(l Latency) Latency {
	l.P50Seconds = math.Round(l.P50Seconds*1e4) / 1e4
	l.P99Seconds = math.Round(l.P99Seconds*1e4) / 1e4
	return l
}

func TestThroughputNeedsAWorkersMetrics(t *testing.T) {
	t0 := time.Unix(1000, 0)
	_, err := throughput(sampleOf(t, t0, map[string]string{"b": bridgeMetrics}), sampleOf(t, t0.Add(time.Second), map[string]string{"b": bridgeMetrics}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "none of the metrics sources read (b) is a worker's")
	assert.Contains(t, err.Error(), "--metrics-url")

	// Read once only: no rate.
	_, err = throughput(sampleOf(t, t0, nil), sampleOf(t, t0.Add(time.Second), map[string]string{"w": workerMetrics(1, 0, 0, 0, 0, 0, 0)}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no metrics source could be read")
}

func TestQuantileAsPrometheus(t *testing.T) {
	inf := math.Inf(1)
	b := map[float64]float64{1: 0, 2: 4, inf: 4}
	assert.Equal(t, 1.5, quantile(0.5, b), "halfway into (1, 2]")
	assert.Equal(t, 1.0, quantile(0, b))
	assert.Equal(t, 2.0, quantile(0.5, map[float64]float64{1: 0, 2: 0, inf: 4}), "in the +Inf bucket: the highest finite bound")
	assert.Equal(t, 0.0, quantile(0.5, map[float64]float64{1: 0, inf: 0}), "no observation")
}

func TestScrapeErrorsSayWhatToDo(t *testing.T) {
	a := &app{timeout: 2 * time.Second}
	notMetrics := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "no", http.StatusNotFound) }))
	defer notMetrics.Close()
	worker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte(workerMetrics(1, 0, 10, 1, 1, 1, 1)))
	}))
	defer worker.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	s, errs := a.scrapeMetrics(t.Context(), []string{metricsURL(strings.TrimPrefix(worker.URL, "http://")), notMetrics.URL + "/metrics", closed.URL + "/metrics"})
	require.Len(t, errs, 2, "%v", errs)
	assert.Contains(t, errs[0], "answered 404 Not Found")
	assert.Contains(t, errs[1], "metrics "+closed.URL+"/metrics unreachable")
	assert.Contains(t, errs[1], "--metrics-listen")
	assert.Len(t, s.fams, 1, "the worker's was read")
	assert.Contains(t, s.fams, worker.URL+"/metrics")
}

func TestMetricsURL(t *testing.T) {
	assert.Equal(t, "http://127.0.0.1:9103/metrics", metricsURL("127.0.0.1:9103"))
	assert.Equal(t, "https://w:9103/metrics", metricsURL("https://w:9103"))
	assert.Equal(t, "http://w:9103/custom", metricsURL("http://w:9103/custom"))
}

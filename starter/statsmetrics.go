package starter

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The metrics stats reads from the processes' /metrics (see worker and bridge).
const (
	metricStatuses       = "backbeat_worker_statuses_total"
	metricBytes          = "backbeat_worker_bytes_total"
	metricPutToCompleted = "backbeat_worker_put_to_completed_seconds"
	metricBridgePaused   = "backbeat_bridge_partition_paused"
)

// DefaultMetricsURLs are the /metrics of the demo's ingest, bridge and worker
// (stats --metrics-url).
var DefaultMetricsURLs = []string{"http://127.0.0.1:9101/metrics", "http://127.0.0.1:9102/metrics", "http://127.0.0.1:9103/metrics"}

// Throughput is how fast the engine goes, from the processes' Prometheus metrics
// (stats --metrics-url) scraped twice: the rates are the counters' increase between
// the two scrapes divided by the time between them.
type Throughput struct {
	// WindowSeconds is the time between the two scrapes.
	WindowSeconds float64 `json:"windowSeconds"`
	// CompletedPerSecond and FailedPerSecond are the COMPLETED and FAILED statuses the
	// workers wrote per second (backbeat_worker_statuses_total).
	CompletedPerSecond float64 `json:"completedPerSecond"`
	FailedPerSecond    float64 `json:"failedPerSecond"`
	// BytesPerSecond are the object data bytes replicated per second
	// (backbeat_worker_bytes_total: counted once per replicated version).
	BytesPerSecond float64 `json:"bytesPerSecond"`
	// PutToCompleted is the time from a put to its COMPLETED status
	// (backbeat_worker_put_to_completed_seconds); nil when nothing completed yet.
	PutToCompleted *Latency `json:"putToCompleted,omitempty"`
	// Sources are the metrics URLs read (both scrapes).
	Sources []string `json:"sources"`
}

// Latency is a latency histogram's percentiles, estimated as Prometheus'
// histogram_quantile does (linear within a bucket).
type Latency struct {
	P50Seconds float64 `json:"p50Seconds"`
	P99Seconds float64 `json:"p99Seconds"`
	// Count is how many observations the percentiles are of.
	Count uint64 `json:"count"`
	// Window is "window" when they are of the observations between the two scrapes,
	// "since start" when none was made in between: then they are of every observation
	// since the workers started.
	Window string `json:"window"`
}

// Latency windows (Latency.Window).
const (
	LatencyWindow     = "window"
	LatencySinceStart = "since start"
)

// metricsSample is one scrape of every metrics URL.
type metricsSample struct {
	at time.Time
	// fams are the metric families of each URL that answered.
	fams map[string]map[string]*dto.MetricFamily
}

// scrapeMetrics reads every URL; the ones that cannot be read are returned as errors
// (and left out of the sample).
func (a *app) scrapeMetrics(ctx context.Context, urls []string) (*metricsSample, []string) {
	s := &metricsSample{at: time.Now(), fams: map[string]map[string]*dto.MetricFamily{}}
	var errs []string
	for _, u := range urls {
		f, err := a.scrape(ctx, u)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		s.fams[u] = f
	}
	return s, errs
}

// scrape reads and parses one /metrics in the Prometheus text format.
func (a *app) scrape(ctx context.Context, url string) (map[string]*dto.MetricFamily, error) {
	cctx, cancel := context.WithTimeout(ctx, a.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(cctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("metrics %s: %w: give --metrics-url as http://HOST:PORT/metrics", url, err)
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("metrics %s unreachable (%w): is the process running with --metrics-listen there? (rates and latencies need the worker's)", url, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics %s answered %s: is it a process's /metrics?", url, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		return nil, fmt.Errorf("metrics %s is not the Prometheus text format: %w", url, err)
	}
	return fams, nil
}

// metricsURL makes a --metrics-url value a URL: HOST:PORT is http://HOST:PORT/metrics.
func metricsURL(s string) string {
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	if rest := s[strings.Index(s, "://")+3:]; !strings.Contains(rest, "/") {
		s += "/metrics"
	}
	return s
}

// throughput computes the rates between two samples from the URLs read in both; it
// returns an error when no URL read in both is a worker's.
func throughput(prev, cur *metricsSample) (*Throughput, error) {
	t := &Throughput{WindowSeconds: cur.at.Sub(prev.at).Seconds(), Sources: []string{}}
	var winBuckets, allBuckets map[float64]float64
	var winCount, allCount uint64
	worker := false
	for u, cf := range cur.fams {
		pf, ok := prev.fams[u]
		if !ok {
			continue
		}
		t.Sources = append(t.Sources, u)
		for _, m := range family(cf, metricStatuses) {
			d := counterIncrease(m, family(pf, metricStatuses))
			switch label(m, "status") {
			case "COMPLETED":
				t.CompletedPerSecond += d
			case "FAILED":
				t.FailedPerSecond += d
			}
		}
		for _, m := range family(cf, metricBytes) {
			t.BytesPerSecond += counterIncrease(m, family(pf, metricBytes))
		}
		for _, m := range family(cf, metricPutToCompleted) {
			worker = true
			h := m.GetHistogram()
			ph := sameSeries(m, family(pf, metricPutToCompleted)).GetHistogram()
			reset := ph == nil || h.GetSampleCount() < ph.GetSampleCount()
			allCount += h.GetSampleCount()
			allBuckets = addBuckets(allBuckets, h, nil)
			if reset {
				winCount += h.GetSampleCount()
				winBuckets = addBuckets(winBuckets, h, nil)
			} else {
				winCount += h.GetSampleCount() - ph.GetSampleCount()
				winBuckets = addBuckets(winBuckets, h, ph)
			}
		}
	}
	sort.Strings(t.Sources)
	if !worker {
		if len(t.Sources) == 0 {
			return nil, fmt.Errorf("no metrics source could be read: rates and latencies unknown")
		}
		return nil, fmt.Errorf("none of the metrics sources read (%s) is a worker's (no %s): add the worker's /metrics with --metrics-url",
			strings.Join(t.Sources, ", "), metricPutToCompleted)
	}
	if t.WindowSeconds > 0 {
		t.CompletedPerSecond /= t.WindowSeconds
		t.FailedPerSecond /= t.WindowSeconds
		t.BytesPerSecond /= t.WindowSeconds
	}
	switch {
	case winCount > 0:
		t.PutToCompleted = &Latency{P50Seconds: quantile(0.5, winBuckets), P99Seconds: quantile(0.99, winBuckets), Count: winCount, Window: LatencyWindow}
	case allCount > 0:
		t.PutToCompleted = &Latency{P50Seconds: quantile(0.5, allBuckets), P99Seconds: quantile(0.99, allBuckets), Count: allCount, Window: LatencySinceStart}
	}
	return t, nil
}

// family is the metrics of the family name (none when absent).
func family(fams map[string]*dto.MetricFamily, name string) []*dto.Metric {
	if f, ok := fams[name]; ok {
		return f.GetMetric()
	}
	return nil
}

// label is the value of m's label name ("" when absent).
func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// sameSeries is the metric of prev with m's labels (nil when absent).
func sameSeries(m *dto.Metric, prev []*dto.Metric) *dto.Metric {
	key := labelKey(m)
	for _, p := range prev {
		if labelKey(p) == key {
			return p
		}
	}
	return nil
}

func labelKey(m *dto.Metric) string {
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+"="+l.GetValue())
	}
	slices.Sort(parts)
	return strings.Join(parts, ",")
}

// counterIncrease is how much counter m grew since the same series in prev: all of it
// when the counter was reset (the process restarted) and 0 when the series is new (the
// source was not read before, its process may have counted for long).
func counterIncrease(m *dto.Metric, prev []*dto.Metric) float64 {
	p := sameSeries(m, prev)
	if p == nil {
		return 0
	}
	cur, was := m.GetCounter().GetValue(), p.GetCounter().GetValue()
	if cur < was {
		return cur
	}
	return cur - was
}

// addBuckets adds h's cumulative bucket counts (minus prev's, when given) to sum, by
// upper bound.
func addBuckets(sum map[float64]float64, h, prev *dto.Histogram) map[float64]float64 {
	if sum == nil {
		sum = map[float64]float64{}
	}
	before := map[float64]float64{}
	for _, b := range prev.GetBucket() {
		before[b.GetUpperBound()] = float64(b.GetCumulativeCount())
	}
	for _, b := range h.GetBucket() {
		if !math.IsInf(b.GetUpperBound(), 1) { // +Inf is the sample count, below
			sum[b.GetUpperBound()] += float64(b.GetCumulativeCount()) - before[b.GetUpperBound()]
		}
	}
	sum[math.Inf(1)] += float64(h.GetSampleCount()) - float64(prev.GetSampleCount())
	return sum
}

// quantile estimates the q-quantile of cumulative bucket counts by upper bound as
// Prometheus' histogram_quantile: linear interpolation within the bucket where the rank
// falls; the highest finite bound when it falls in the +Inf bucket.
func quantile(q float64, buckets map[float64]float64) float64 {
	bounds := make([]float64, 0, len(buckets))
	for b := range buckets {
		bounds = append(bounds, b)
	}
	slices.Sort(bounds)
	total := buckets[math.Inf(1)]
	if total <= 0 || len(bounds) == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, b := range bounds {
		count := buckets[b]
		if count >= rank {
			if math.IsInf(b, 1) {
				return lower
			}
			if count == below {
				return b
			}
			return lower + (b-lower)*(rank-below)/(count-below)
		}
		lower, below = b, count
	}
	return lower
}

// bridgePaused is, per partition, whether a bridge paused it (backpressure:
// backbeat_bridge_partition_paused), from the sample's bridges.
func bridgePaused(s *metricsSample) map[int32]bool {
	out := map[int32]bool{}
	for _, fams := range s.fams {
		for _, m := range family(fams, metricBridgePaused) {
			var p int32
			if _, err := fmt.Sscan(label(m, "partition"), &p); err != nil {
				continue
			}
			out[p] = out[p] || m.GetGauge().GetValue() > 0
		}
	}
	return out
}

// Package worker hosts the partition workflows (package workflows) and the replication
// activities (package activities) on the task queue backbeat-replication, and exports
// Prometheus metrics: completions, failures, bytes, the put→COMPLETED latency, and the
// Temporal SDK's own metrics.
package worker

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.temporal.io/sdk/activity"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/activities"
	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/workflows"
)

// Config configures Run. Zero values take the documented defaults.
type Config struct {
	// TemporalAddress is the Temporal frontend host:port. Default "127.0.0.1:7233".
	TemporalAddress string
	// Namespace is the Temporal namespace. Default "default".
	Namespace string
	// TemporalTLS is the TLS (mTLS with a client certificate) setting of the connection
	// to Temporal. Default: plain text.
	TemporalTLS tlsconf.Client
	// TaskQueue is the task queue polled. Default contract.TaskQueue.
	TaskQueue string
	// Source is the source s3server and its replication identity (endpoint, region,
	// access and secret key, or a profile). Required: Endpoint and credentials.
	Source activities.Site
	// SitesFile is the sites file naming the targets (see activities.Sites). Default "":
	// the source endpoint is the only target.
	SitesFile string
	// MaxConcurrentActivities bounds the activities run at once. Default 32.
	MaxConcurrentActivities int
	// MaxConcurrentWorkflowTasks bounds the workflow tasks run at once. Default 16.
	MaxConcurrentWorkflowTasks int
	// Workflow is the configuration of the partition workflows: retry policies, retry
	// budget, breaker threshold, window. The worker owns it: every workflow run reads it
	// when it starts (local activity contract.ActivityWorkflowConfig, so also after each
	// ContinueAsNew), and the fields set here override those the bridge carried in the
	// workflow's Params. Zero fields take contract.DefaultConfig()'s values.
	Workflow contract.Config
	// MetricsListen is the address of /metrics and /healthz; "" disables them.
	// Default "" in the library; DefaultMetricsListen ("127.0.0.1:9103") in the command.
	MetricsListen string
	// MinBackoff and MaxBackoff bound the retry delay while Temporal is unreachable.
	// Defaults 200ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMetricsListen is the command's address of /metrics and /healthz (the
// library's zero value "" disables them).
const DefaultMetricsListen = "127.0.0.1:9103"

// DefaultConfig returns the defaults of the Config fields, the values the command's
// flags start from; Run fills a zero field with the same value (MetricsListen excepted:
// "" disables the metrics; Source, which is required, is only the command's default
// endpoint and region). Credentials, SitesFile and Logger have no default; Workflow's
// are contract.DefaultConfig() (a zero Workflow field lets the value the bridge carried
// through).
func DefaultConfig() Config {
	return Config{
		TemporalAddress:            "127.0.0.1:7233",
		Namespace:                  "default",
		TaskQueue:                  contract.TaskQueue,
		Source:                     activities.Site{Endpoint: "http://127.0.0.1:8000", Region: activities.DefaultRegion},
		MaxConcurrentActivities:    32,
		MaxConcurrentWorkflowTasks: 16,
		MetricsListen:              DefaultMetricsListen,
		MinBackoff:                 200 * time.Millisecond,
		MaxBackoff:                 30 * time.Second,
	}
}

// withDefaults returns c with the zero fields set from DefaultConfig.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.TemporalAddress == "" {
		c.TemporalAddress = d.TemporalAddress
	}
	if c.Namespace == "" {
		c.Namespace = d.Namespace
	}
	if c.TaskQueue == "" {
		c.TaskQueue = d.TaskQueue
	}
	if c.MaxConcurrentActivities == 0 {
		c.MaxConcurrentActivities = d.MaxConcurrentActivities
	}
	if c.MaxConcurrentWorkflowTasks == 0 {
		c.MaxConcurrentWorkflowTasks = d.MaxConcurrentWorkflowTasks
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = d.MinBackoff
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = d.MaxBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	c.Workflow = c.Workflow.WithDefaults()
	return c
}

// Run runs the worker until ctx ends. A bad configuration (sites file, credentials) is
// an error at once; an unreachable Temporal is logged and retried.
func Run(ctx context.Context, cfg Config) error {
	cfg = cfg.withDefaults()
	log := cfg.Logger
	rcfg := activities.Config{Source: cfg.Source, Logger: log.With("component", "activities")}
	if cfg.SitesFile != "" {
		sites, err := activities.LoadSites(cfg.SitesFile)
		if err != nil {
			return fmt.Errorf("worker: %w", err)
		}
		rcfg.Sites = sites
	}
	repl, err := activities.New(ctx, rcfg)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	probeHTTP, err := tlsconf.HTTPClient(tlsconf.Client{CAFile: cfg.Source.CAFile})
	if err != nil {
		return fmt.Errorf("worker: the source's CA bundle: %w", err)
	}
	m := newMetrics()
	temporal := &tclient.Probe{Address: cfg.TemporalAddress}
	_, closeMetrics, err := metricsserver.Start(cfg.MetricsListen, m.handler(
		metricsserver.Check{Name: "temporal", Probe: temporal.Check},
		metricsserver.Check{Name: "s3server", Probe: metricsserver.HTTPClientProbe(probeHTTP, cfg.Source.Endpoint)}), log)
	if err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	defer closeMetrics()
	c, err := tclient.Dial(ctx, tclient.Options{Address: cfg.TemporalAddress, Namespace: cfg.Namespace, TLS: cfg.TemporalTLS,
		Logger: log, Metrics: newSDKMetrics(m.reg), MinBackoff: cfg.MinBackoff, MaxBackoff: cfg.MaxBackoff})
	if err != nil {
		if ctx.Err() != nil {
			return nil // ctx ended while waiting for Temporal
		}
		return fmt.Errorf("worker: %w", err)
	}
	defer c.Close()
	temporal.Set(c)
	w := tworker.New(c, cfg.TaskQueue, tworker.Options{
		MaxConcurrentActivityExecutionSize:     cfg.MaxConcurrentActivities,
		MaxConcurrentWorkflowTaskExecutionSize: cfg.MaxConcurrentWorkflowTasks,
	})
	w.RegisterWorkflowWithOptions(workflows.PartitionWorkflow, workflow.RegisterOptions{Name: contract.WorkflowName})
	activities.NewActivities(repl, m, log.With("component", "activities")).Register(w)
	RegisterWorkflowConfig(w, cfg.Workflow)
	if err := w.Start(); err != nil {
		return fmt.Errorf("worker: start polling %s: %w", cfg.TaskQueue, err)
	}
	m.ready.Store(true)
	log.Info("worker polling", "taskQueue", cfg.TaskQueue, "temporal", cfg.TemporalAddress, "namespace", cfg.Namespace,
		"source", cfg.Source.Endpoint, "retry", cfg.Workflow.Retry, "retryBudget", cfg.Workflow.RetryBudget,
		"breakerThreshold", cfg.Workflow.BreakerThreshold, "maxConcurrent", cfg.Workflow.MaxConcurrent)
	<-ctx.Done()
	m.ready.Store(false)
	w.Stop() // waits for running activities up to WorkerStopTimeout; the rest are retried
	return nil
}

// RegisterWorkflowConfig registers the local activity contract.ActivityWorkflowConfig,
// which answers wc to the partition workflows this worker runs.
func RegisterWorkflowConfig(reg tworker.ActivityRegistry, wc contract.Config) {
	reg.RegisterActivityWithOptions(func(context.Context) (contract.Config, error) { return wc, nil },
		activity.RegisterOptions{Name: contract.ActivityWorkflowConfig})
}

// metrics are the worker's Prometheus metrics; they implement activities.Metrics.
type metrics struct {
	reg        *prometheus.Registry
	replicated *prometheus.CounterVec
	failures   *prometheus.CounterVec
	bytes      *prometheus.CounterVec
	// failedBytes are the bytes streamed by attempts that failed.
	failedBytes *prometheus.CounterVec
	statuses    *prometheus.CounterVec
	latency     prometheus.Histogram
	ready       atomic.Bool
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		replicated: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_worker_replications_total",
			Help: "Versions replicated (action: data, metadata, delete-marker, already-present...)."}, []string{"site", "action"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_worker_replication_failures_total",
			Help: "Failed replication attempts (kind: retryable or the fail-fast reason)."}, []string{"site", "kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_worker_bytes_total",
			Help: "Object data bytes of the versions replicated (counted once, on success)."}, []string{"site"}),
		failedBytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_worker_failed_attempt_bytes_total",
			Help: "Object data bytes streamed by replication attempts that failed (retried or FAILED)."}, []string{"site"}),
		statuses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "backbeat_worker_statuses_total",
			Help: "Replication statuses written on source versions (COMPLETED, FAILED)."}, []string{"status"}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "backbeat_worker_put_to_completed_seconds",
			Help:    "Time from the journaled change (the put) to its COMPLETED status.",
			Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}),
	}
	m.reg.MustRegister(m.replicated, m.failures, m.bytes, m.failedBytes, m.statuses, m.latency,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// Replicated implements activities.Metrics.
func (m *metrics) Replicated(site, action string, bytes int64) {
	m.replicated.WithLabelValues(site, action).Inc()
	m.bytes.WithLabelValues(site).Add(float64(bytes))
}

// ReplicationFailed implements activities.Metrics. The bytes the failed attempt
// streamed go to backbeat_worker_failed_attempt_bytes_total, not to
// backbeat_worker_bytes_total, which counts each replicated version's bytes once.
func (m *metrics) ReplicationFailed(site string, kind contract.ErrorKind, bytes int64) {
	k := string(kind)
	if k == "" {
		k = "retryable"
	}
	m.failures.WithLabelValues(site, k).Inc()
	m.failedBytes.WithLabelValues(site).Add(float64(bytes))
}

// StatusSet implements activities.Metrics.
func (m *metrics) StatusSet(status bbproto.Status, latency time.Duration) {
	m.statuses.WithLabelValues(string(status)).Inc()
	if status == bbproto.StatusCompleted && latency > 0 {
		m.latency.Observe(latency.Seconds())
	}
}

// handler serves /metrics and /healthz: deps are the dependencies' checks (Temporal,
// the source s3server); /healthz adds "polling" (the task queue is polled) and answers
// 503 when one fails.
func (m *metrics) handler(deps ...metricsserver.Check) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	mux.Handle("/healthz", &metricsserver.Health{Checks: append(deps, metricsserver.Check{Name: "polling",
		Probe: metricsserver.FlagProbe(m.ready.Load, "not polling the task queue: waiting for Temporal (see the logs)")})})
	return mux
}

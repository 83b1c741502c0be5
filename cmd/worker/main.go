// Command worker hosts the partition workflows and the replication activities on the
// Temporal task queue backbeat-replication, and owns the partition workflows' retry
// policy, retry budget, breaker threshold, window (--retry-*, --retries,
// --breaker-threshold, --max-concurrent) and batches (--batch-max-entries,
// --batch-max-bytes, --batch-parallelism, --batch-partial, --large-object-size): every workflow run
// reads them when it starts, running workflows included. See package worker; every
// flag has a BACKBEAT_<FLAG> environment fallback.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
	"github.com/backbeat-temporal/backbeat/worker"
)

func main() {
	cfg := worker.DefaultConfig()
	var logLevel slog.Level
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	fs.StringVar(&cfg.TemporalAddress, "temporal-address", cfg.TemporalAddress, "Temporal frontend host:port")
	fs.StringVar(&cfg.Namespace, "namespace", cfg.Namespace, "Temporal namespace")
	tclient.AddTLSFlags(fs, &cfg.TemporalTLS)
	fs.StringVar(&cfg.TaskQueue, "task-queue", cfg.TaskQueue, "task queue to poll")
	fs.StringVar(&cfg.Source.Endpoint, "s3-endpoint", cfg.Source.Endpoint, "source s3server base URL")
	fs.StringVar(&cfg.Source.CAFile, "s3-ca-file", "", "PEM bundle of the CAs that sign the source s3server's HTTPS certificate (empty: $AWS_CA_BUNDLE, else the system's roots; targets: caFile in the sites file)")
	fs.StringVar(&cfg.Source.Region, "region", cfg.Source.Region, "region of the source endpoint")
	fs.StringVar(&cfg.Source.AccessKey, "access-key", "", "access key of s3server's replication identity")
	flagenv.SecretVar(fs, &cfg.Source.SecretKey, "secret-key", "secret key of s3server's replication identity")
	fs.StringVar(&cfg.Source.Profile, "profile", "", "AWS shared-config profile of the replication identity (instead of the keys)")
	fs.StringVar(&cfg.SitesFile, "sites", "", "sites file naming the replication targets (default: the source endpoint)")
	fs.IntVar(&cfg.MaxConcurrentActivities, "max-activities", cfg.MaxConcurrentActivities, "activities run at once")
	fs.IntVar(&cfg.MaxConcurrentWorkflowTasks, "max-workflow-tasks", cfg.MaxConcurrentWorkflowTasks, "workflow tasks run at once")
	def := contract.DefaultConfig()
	wf := &cfg.Workflow
	fs.DurationVar(&wf.Retry.InitialInterval, "retry-initial", def.Retry.InitialInterval, "first retry delay of a replication or a status write (status writes: delays capped at 1m)")
	fs.Float64Var(&wf.Retry.BackoffCoefficient, "retry-backoff", def.Retry.BackoffCoefficient, "retry delay multiplier")
	fs.DurationVar(&wf.Retry.MaximumInterval, "retry-max-interval", def.Retry.MaximumInterval, "longest retry delay of a replication")
	fs.IntVar(&wf.Retry.MaxRetries, "retries", def.Retry.MaxRetries, "retries of the first burst of a replication (Temporal's retry policy); later attempts are spaced by workflow timers until --retry-budget; 0: one attempt")
	fs.DurationVar(&wf.RetryBudget, "retry-budget", def.RetryBudget, "how long a replication is retried after its first failure before its version is marked FAILED")
	fs.IntVar(&wf.BreakerThreshold, "breaker-threshold", def.BreakerThreshold, "consecutive failed bursts to one site that open its circuit breaker (its entries then wait for one probe to succeed); negative: no breaker")
	fs.IntVar(&wf.MaxConcurrent, "max-concurrent", def.MaxConcurrent, "entries of different objects a partition workflow replicates at once (1: one at a time; an object's versions are always in order)")
	fs.IntVar(&wf.ContinueAsNewAfter, "continue-as-new-after", def.ContinueAsNewAfter, "entries one run of a partition workflow processes before it continues as new (it also continues when Temporal suggests it)")
	fs.DurationVar(&wf.HeartbeatTimeout, "heartbeat-timeout", def.HeartbeatTimeout, "a replication attempt silent that long (a killed worker) is retried (negative: no heartbeat timeout)")
	fs.IntVar(&wf.BatchMaxEntries, "batch-max-entries", def.BatchMaxEntries, "most entries replicated by one batch activity (1: batches of one entry)")
	fs.Int64Var(&wf.BatchMaxBytes, "batch-max-bytes", def.BatchMaxBytes, "most bytes of objects in one batch (a batch always takes at least one entry)")
	fs.IntVar(&wf.BatchParallelism, "batch-parallelism", def.BatchParallelism, "entries of one batch a worker replicates at once")
	fs.IntVar(&wf.PartialBatches, "batch-partial", def.PartialBatches, "partial batches (not full) a partition workflow runs at once; more entries wait to join the next batch, so batches grow under load (negative: no bound)")
	fs.Int64Var(&wf.LargeObjectSize, "large-object-size", def.LargeObjectSize, "object size in bytes from which a version is not batched but copied alone on its resumable multipart path")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "address of /metrics and /healthz (empty: off)")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	cfg.Source.CAFile = tlsconf.S3CAFile(cfg.Source.CAFile, os.Getenv)
	if wf.Retry.MaxRetries == 0 {
		wf.Retry.MaxRetries = contract.NoRetries // --retries 0: one attempt per burst
	}
	statusInitial := min(wf.Retry.InitialInterval, contract.DefaultStatusRetry().MaximumInterval)
	wf.StatusRetry = contract.RetryConfig{InitialInterval: statusInitial, BackoffCoefficient: wf.Retry.BackoffCoefficient,
		MaximumInterval: min(wf.Retry.MaximumInterval, contract.DefaultStatusRetry().MaximumInterval)}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, cfg); err != nil {
		cfg.Logger.Error("worker stopped", "err", err)
		os.Exit(1)
	}
}

// Command worker hosts the partition workflows and the replication activities on the
// Temporal task queue backbeat-replication. See package worker; every flag has a
// BACKBEAT_<FLAG> environment fallback.
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
	"github.com/backbeat-temporal/backbeat/worker"
)

func main() {
	var cfg worker.Config
	var logLevel slog.Level
	fs := flag.NewFlagSet("worker", flag.ExitOnError)
	fs.StringVar(&cfg.TemporalAddress, "temporal-address", "127.0.0.1:7233", "Temporal frontend host:port")
	fs.StringVar(&cfg.Namespace, "namespace", "default", "Temporal namespace")
	fs.StringVar(&cfg.TaskQueue, "task-queue", contract.TaskQueue, "task queue to poll")
	fs.StringVar(&cfg.Source.Endpoint, "s3-endpoint", "http://127.0.0.1:8000", "source s3server base URL")
	fs.StringVar(&cfg.Source.Region, "region", "us-east-1", "region of the source endpoint")
	fs.StringVar(&cfg.Source.AccessKey, "access-key", "", "access key of s3server's replication identity")
	fs.StringVar(&cfg.Source.SecretKey, "secret-key", "", "secret key of s3server's replication identity")
	fs.StringVar(&cfg.Source.Profile, "profile", "", "AWS shared-config profile of the replication identity (instead of the keys)")
	fs.StringVar(&cfg.SitesFile, "sites", "", "sites file naming the replication targets (default: the source endpoint)")
	fs.IntVar(&cfg.MaxConcurrentActivities, "max-activities", 32, "activities run at once")
	fs.IntVar(&cfg.MaxConcurrentWorkflowTasks, "max-workflow-tasks", 16, "workflow tasks run at once")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", "127.0.0.1:9103", "address of /metrics and /healthz (empty: off)")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := worker.Run(ctx, cfg); err != nil {
		cfg.Logger.Error("worker stopped", "err", err)
		os.Exit(1)
	}
}

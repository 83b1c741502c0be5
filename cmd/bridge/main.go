// Command bridge consumes the Kafka topic backbeat-replication and signals one Temporal
// workflow per partition. The workflows' retry policy and window are the worker's
// (cmd/worker --retry-*, --max-concurrent), not the bridge's. See package bridge; every
// flag has a BACKBEAT_<FLAG> environment fallback.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/backbeat-temporal/backbeat/bridge"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
)

func main() {
	cfg := bridge.DefaultConfig()
	brokers := strings.Join(cfg.Brokers, ",")
	var logLevel slog.Level
	fs := flag.NewFlagSet("bridge", flag.ExitOnError)
	fs.StringVar(&brokers, "kafka-brokers", brokers, "Kafka bootstrap brokers, comma-separated")
	kafkaconf.AddFlags(fs, &cfg.Kafka)
	fs.StringVar(&cfg.Topic, "topic", cfg.Topic, "Kafka topic")
	fs.StringVar(&cfg.Group, "group", cfg.Group, "Kafka consumer group")
	fs.StringVar(&cfg.TemporalAddress, "temporal-address", cfg.TemporalAddress, "Temporal frontend host:port")
	fs.StringVar(&cfg.Namespace, "namespace", cfg.Namespace, "Temporal namespace")
	tclient.AddTLSFlags(fs, &cfg.TemporalTLS)
	fs.StringVar(&cfg.TaskQueue, "task-queue", cfg.TaskQueue, "task queue of the partition workflows")
	fs.IntVar(&cfg.BatchEntries, "batch-entries", cfg.BatchEntries, "entries per signal at most")
	fs.IntVar(&cfg.BatchBytes, "batch-bytes", cfg.BatchBytes, "encoded bytes per signal at most (1 KiB - 1 MiB)")
	fs.DurationVar(&cfg.BatchLinger, "batch-linger", cfg.BatchLinger, "least time between two signals of a partition (an entry after a quiet spell goes at once; under load one signal per linger carries what arrived)")
	fs.IntVar(&cfg.HighWater, "high-water", cfg.HighWater, "pause a partition while its workflow backlog is at or above this")
	fs.IntVar(&cfg.LowWater, "low-water", 0, "resume a paused partition at or below this backlog (0: high-water/2)")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", cfg.DrainTimeout, "bound of the last send of a partition's batch when its claim ends (rebalance, stop)")
	fs.DurationVar(&cfg.StuckAfter, "stuck-after", cfg.StuckAfter, "report partitions whose entries no live bridge consumes (or a pending rebalance) after this long, and rejoin the group")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "address of /metrics and /healthz (empty: off)")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(2)
	}
	cfg.Brokers = strings.Split(brokers, ",")
	if err := cfg.Kafka.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := bridge.Run(ctx, cfg); err != nil {
		cfg.Logger.Error("bridge stopped", "err", err)
		os.Exit(1)
	}
}

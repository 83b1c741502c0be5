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
	"time"

	"github.com/backbeat-temporal/backbeat/bridge"
	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/internal/tclient"
)

func main() {
	var cfg bridge.Config
	var brokers string
	var logLevel slog.Level
	fs := flag.NewFlagSet("bridge", flag.ExitOnError)
	fs.StringVar(&brokers, "kafka-brokers", "127.0.0.1:9092", "Kafka bootstrap brokers, comma-separated")
	kafkaconf.AddFlags(fs, &cfg.Kafka)
	fs.StringVar(&cfg.Topic, "topic", contract.DefaultTopic, "Kafka topic")
	fs.StringVar(&cfg.Group, "group", "backbeat-replication-group", "Kafka consumer group")
	fs.StringVar(&cfg.TemporalAddress, "temporal-address", "127.0.0.1:7233", "Temporal frontend host:port")
	fs.StringVar(&cfg.Namespace, "namespace", "default", "Temporal namespace")
	tclient.AddTLSFlags(fs, &cfg.TemporalTLS)
	fs.StringVar(&cfg.TaskQueue, "task-queue", contract.TaskQueue, "task queue of the partition workflows")
	fs.IntVar(&cfg.BatchEntries, "batch-entries", 100, "entries per signal at most")
	fs.IntVar(&cfg.BatchBytes, "batch-bytes", 512<<10, "encoded bytes per signal at most (1 KiB - 1 MiB)")
	fs.DurationVar(&cfg.BatchLinger, "batch-linger", 100*time.Millisecond, "how long a partial batch waits for more entries")
	fs.IntVar(&cfg.HighWater, "high-water", contract.DefaultHighWater, "pause a partition while its workflow backlog is at or above this")
	fs.IntVar(&cfg.LowWater, "low-water", 0, "resume a paused partition at or below this backlog (0: high-water/2)")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 15*time.Second, "bound of the last send of a partition's batch when its claim ends (rebalance, stop)")
	fs.DurationVar(&cfg.StuckAfter, "stuck-after", time.Minute, "report partitions whose entries no live bridge consumes (or a pending rebalance) after this long, and rejoin the group")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", "127.0.0.1:9102", "address of /metrics and /healthz (empty: off)")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "bridge:", err)
		os.Exit(2)
	}
	cfg.Brokers = strings.Split(brokers, ",")
	if err := cfg.Kafka.Resolve(os.Getenv); err != nil {
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

// Command ingest is the queue populator: s3server's journal → Kafka, offsets in
// ZooKeeper. See package ingest; every flag has a BACKBEAT_<FLAG> environment fallback
// (--s3-endpoint → BACKBEAT_S3_ENDPOINT, --kafka-brokers → BACKBEAT_KAFKA_BROKERS…).
//
// It exits 1 when the journal was truncated past its stored offset (the operator must
// backfill) or when the configuration is invalid (missing credentials), 2 on a bad
// flag, and 0 on SIGINT/SIGTERM. Every other failure is logged and retried.
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

	"github.com/backbeat-temporal/backbeat/ingest"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

func main() {
	cfg := ingest.DefaultConfig()
	brokers, zkServers := strings.Join(cfg.Brokers, ","), strings.Join(cfg.ZooKeeper, ",")
	var logLevel slog.Level
	fs := flag.NewFlagSet("ingest", flag.ExitOnError)
	fs.StringVar(&cfg.S3Endpoint, "s3-endpoint", cfg.S3Endpoint, "s3server base URL")
	fs.StringVar(&cfg.S3CAFile, "s3-ca-file", cfg.S3CAFile, "PEM bundle of the CAs that sign s3server's HTTPS certificate (empty: $AWS_CA_BUNDLE, else the system's roots)")
	fs.StringVar(&cfg.AccessKey, "access-key", "", "access key of s3server's replication identity (required)")
	flagenv.SecretVar(fs, &cfg.SecretKey, "secret-key", "secret key of s3server's replication identity")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "signing region of the journal requests (s3server's --region)")
	fs.StringVar(&brokers, "kafka-brokers", brokers, "Kafka bootstrap brokers, comma-separated")
	kafkaconf.AddFlags(fs, &cfg.Kafka)
	fs.StringVar(&cfg.Topic, "topic", cfg.Topic, "Kafka topic")
	fs.IntVar(&cfg.Partitions, "partitions", cfg.Partitions, "partitions of the topic when ingest creates it")
	fs.StringVar(&zkServers, "zookeeper", zkServers, "ZooKeeper servers, comma-separated")
	fs.StringVar(&cfg.ZKChroot, "zookeeper-chroot", cfg.ZKChroot, "prefix of ingest's znodes")
	fs.DurationVar(&cfg.ZKSessionTimeout, "zookeeper-session-timeout", cfg.ZKSessionTimeout, "ZooKeeper session timeout: how long a dead ingest keeps the lock (ZooKeeper bounds it to 2-20 ticks, 4s-40s by default)")
	fs.IntVar(&cfg.BatchSize, "batch-size", cfg.BatchSize, "journal records per Kafka batch (1-10000)")
	fs.DurationVar(&cfg.PollWait, "poll-wait", cfg.PollWait, "longest journal long-poll")
	fs.DurationVar(&cfg.MinBackoff, "min-backoff", cfg.MinBackoff, "first retry delay after an error")
	fs.DurationVar(&cfg.MaxBackoff, "max-backoff", cfg.MaxBackoff, "longest retry delay after repeated errors")
	fs.DurationVar(&cfg.SweepInterval, "sweep-interval", cfg.SweepInterval, "how often the leader re-drives versions left PENDING (negative: never)")
	fs.DurationVar(&cfg.SweepThreshold, "sweep-threshold", cfg.SweepThreshold, "re-drive versions whose status was left PENDING or PROCESSING for longer than this")
	fs.IntVar(&cfg.SweepMaxPerRound, "sweep-max-per-round", cfg.SweepMaxPerRound, "versions re-driven per sweeper round at most")
	fs.StringVar(&cfg.MetricsListen, "metrics-listen", cfg.MetricsListen, "address of /metrics and /healthz (empty: off)")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(2)
	}
	cfg.S3CAFile = tlsconf.S3CAFile(cfg.S3CAFile, os.Getenv)
	cfg.Brokers = splitList(brokers)
	cfg.ZooKeeper = splitList(zkServers)
	if err := cfg.Kafka.Validate(); err != nil {
		fmt.Fprintln(os.Stderr, "ingest:", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := ingest.Run(ctx, cfg); err != nil {
		cfg.Logger.Error("ingest stopped", "err", err)
		os.Exit(1)
	}
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

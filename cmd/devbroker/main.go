// Command devbroker runs a single-node Kafka-protocol broker for development, tests, CI
// and the demo (franz-go's kfake; see package internal/devbroker for what it
// keeps across restarts and kill -9). Every flag has a BACKBEAT_<FLAG> environment
// fallback. It logs JSON to stderr, including a "devbroker listening on ADDR" line once
// it accepts connections, and stops gracefully on SIGINT or SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/backbeat-temporal/backbeat/internal/devbroker"
	"github.com/backbeat-temporal/backbeat/internal/flagenv"
)

func main() {
	var cfg devbroker.Config
	var topics string
	var autoCreate bool
	var logLevel slog.Level
	fs := flag.NewFlagSet("devbroker", flag.ExitOnError)
	fs.StringVar(&cfg.Listen, "listen", devbroker.DefaultListen, "address to listen on and advertise to clients (port 0: any free port)")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory keeping topics, records and committed offsets across restarts (empty: in memory)")
	fs.IntVar(&cfg.Partitions, "partitions", devbroker.DefaultPartitions, "partition count of auto-created topics and of --seed-topics without a count")
	fs.StringVar(&topics, "seed-topics", "", "topics to create at start when missing: name[:partitions],...")
	fs.BoolVar(&autoCreate, "auto-create-topics", true, "create unknown topics on metadata requests that ask for it")
	fs.BoolVar(&cfg.SyncWrites, "sync", false, "fsync every record batch and offset commit before acknowledging (survives power loss; kill -9 is survived without it)")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug (every Kafka request), info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "devbroker:", err)
		os.Exit(2)
	}
	var err error
	if cfg.Topics, err = devbroker.ParseTopics(topics); err != nil {
		fmt.Fprintln(os.Stderr, "devbroker: --seed-topics:", err)
		os.Exit(2)
	}
	cfg.NoAutoCreateTopics = !autoCreate
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := devbroker.Run(ctx, cfg); err != nil {
		cfg.Logger.Error("devbroker stopped", "err", err)
		os.Exit(1)
	}
}

// Command s3server runs the project's local S3 endpoint with its metadata journal.
// See package s3server; every flag has a BACKBEAT_<FLAG> environment fallback.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/backbeat-temporal/backbeat/internal/flagenv"
	"github.com/backbeat-temporal/backbeat/s3server"
)

func main() {
	cfg := s3server.DefaultConfig()
	var logLevel slog.Level
	fs := flag.NewFlagSet("s3server", flag.ExitOnError)
	fs.StringVar(&cfg.Listen, "listen", cfg.Listen, "address to serve the S3 API on")
	fs.StringVar(&cfg.DataDir, "data-dir", "", "directory of the metadata store, journal and object data (required)")
	fs.StringVar(&cfg.AccountsFile, "accounts", "", "JSON accounts file: {\"accounts\":[{\"name\",\"accessKey\",\"secretKey\",\"replication\"}]} (required)")
	fs.StringVar(&cfg.Region, "region", cfg.Region, "the only region accepted in signatures (another: 400 AuthorizationHeaderMalformed); clients must sign for it")
	fs.Uint64Var(&cfg.JournalRetention, "journal-retention", 0, "journal records to keep (0 keeps all)")
	fs.DurationVar(&cfg.JournalMaxAge, "journal-max-age", 0, "remove journal records older than this (0: no age limit)")
	fs.DurationVar(&cfg.MaxJournalWait, "max-journal-wait", cfg.MaxJournalWait, "longest long-poll of the journal route")
	fs.DurationVar(&cfg.IdleTimeout, "idle-timeout", cfg.IdleTimeout, "longest silence while reading a request's headers or body (a stalled body: 400 RequestTimeout, connection closed)")
	fs.DurationVar(&cfg.KeepAliveTimeout, "keep-alive-timeout", cfg.KeepAliveTimeout, "close keep-alive connections idle between requests for longer")
	fs.StringVar(&cfg.TLSCertFile, "tls-cert", "", "PEM certificate (with its chain) of HTTPS; with --tls-key the server speaks HTTPS only (empty: HTTP)")
	fs.StringVar(&cfg.TLSKeyFile, "tls-key", "", "PEM private key file of --tls-cert")
	fs.TextVar(&logLevel, "log-level", slog.LevelInfo, "log level: debug, info, warn, error")
	if err := flagenv.Parse(fs, os.Args[1:], nil); err != nil {
		fmt.Fprintln(os.Stderr, "s3server:", err)
		os.Exit(2)
	}
	cfg.Logger = slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: logLevel}))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := s3server.Run(ctx, cfg); err != nil {
		cfg.Logger.Error("s3server stopped", "err", err)
		os.Exit(1)
	}
}

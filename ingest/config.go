package ingest

import (
	"errors"
	"log/slog"
	"time"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/sweeper"
)

// Config configures Run. Zero values take the documented defaults.
type Config struct {
	// S3Endpoint is the s3server base URL. Default "http://127.0.0.1:8000".
	S3Endpoint string
	// S3CAFile is a PEM bundle of the CAs that may sign s3server's HTTPS certificate.
	// Default "": the system's roots.
	S3CAFile string
	// AccessKey and SecretKey of s3server's replication identity. Required.
	AccessKey, SecretKey string
	// Region signs the journal requests: s3server's --region, which it enforces.
	// Default "us-east-1".
	Region string
	// Brokers are the Kafka bootstrap brokers. Default ["127.0.0.1:9092"].
	Brokers []string
	// Kafka is the TLS and SASL setting of the Kafka connections. Default: plain text,
	// no SASL.
	Kafka kafkaconf.Security
	// Topic is the Kafka topic. Default contract.DefaultTopic ("backbeat-replication").
	Topic string
	// Partitions is the partition count used when Run creates the topic. Default 8.
	Partitions int
	// ZooKeeper servers (host:port, without chroot). Default ["127.0.0.1:2181"].
	ZooKeeper []string
	// ZKChroot prefixes every znode path. Default "/backbeat".
	ZKChroot string
	// ZKSessionTimeout is the ZooKeeper session timeout: a killed ingest keeps the lock
	// that long, and a leader cut from ZooKeeper steps down within it. ZooKeeper bounds
	// it to 2 to 20 ticks (4s to 40s with its default tickTime). Default 10s.
	ZKSessionTimeout time.Duration
	// BatchSize bounds the records read from the journal and produced to Kafka in one
	// batch (1 to 10000). A batch is never waited for: it holds what the journal has
	// ready. Default 500.
	BatchSize int
	// PollWait is the longest a journal read waits for a new record (s3server caps it
	// with its --max-journal-wait). A read that has not answered PollWait+30s after it
	// was sent is abandoned and retried. Default 20s.
	PollWait time.Duration
	// MetricsListen is the address of /metrics and /healthz; "" disables them.
	// Default "" in the library; DefaultMetricsListen ("127.0.0.1:9101") in the command.
	MetricsListen string
	// MinBackoff and MaxBackoff bound the retry delay after an error. Defaults 500ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	// SweepInterval is how often the leader re-drives versions left waiting (package
	// sweeper); negative disables the sweeper. Default sweeper.DefaultInterval (1m).
	SweepInterval time.Duration
	// SweepThreshold is how long a version's status must have been left PENDING or
	// PROCESSING before the sweeper re-drives it. Default sweeper.DefaultThreshold (15m).
	SweepThreshold time.Duration
	// SweepMaxPerRound bounds the versions re-driven per sweeper round. Default
	// sweeper.DefaultMaxPerRound (10000).
	SweepMaxPerRound int
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMetricsListen is the command's address of /metrics and /healthz (the
// library's zero value "" disables them).
const DefaultMetricsListen = "127.0.0.1:9101"

// DefaultConfig returns the defaults of every Config field, the values the command's
// flags start from; Run fills a zero field with the same value (MetricsListen excepted:
// "" disables the metrics). Credentials and Logger have no default.
func DefaultConfig() Config {
	return Config{
		S3Endpoint:       "http://127.0.0.1:8000",
		Region:           "us-east-1",
		Brokers:          []string{"127.0.0.1:9092"},
		Topic:            contract.DefaultTopic,
		Partitions:       8,
		ZooKeeper:        []string{"127.0.0.1:2181"},
		ZKChroot:         "/backbeat",
		ZKSessionTimeout: 10 * time.Second,
		BatchSize:        500,
		PollWait:         20 * time.Second,
		MetricsListen:    DefaultMetricsListen,
		MinBackoff:       500 * time.Millisecond,
		MaxBackoff:       30 * time.Second,
		SweepInterval:    sweeper.DefaultInterval,
		SweepThreshold:   sweeper.DefaultThreshold,
		SweepMaxPerRound: sweeper.DefaultMaxPerRound,
	}
}

// withDefaults returns c with defaults filled in, or an error naming what is missing.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if c.S3Endpoint == "" {
		c.S3Endpoint = d.S3Endpoint
	}
	if c.Region == "" {
		c.Region = d.Region
	}
	if len(c.Brokers) == 0 {
		c.Brokers = d.Brokers
	}
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.Partitions == 0 {
		c.Partitions = d.Partitions
	}
	if len(c.ZooKeeper) == 0 {
		c.ZooKeeper = d.ZooKeeper
	}
	if c.ZKChroot == "" {
		c.ZKChroot = d.ZKChroot
	}
	if c.ZKSessionTimeout == 0 {
		c.ZKSessionTimeout = d.ZKSessionTimeout
	}
	if c.BatchSize == 0 {
		c.BatchSize = d.BatchSize
	}
	if c.PollWait == 0 {
		c.PollWait = d.PollWait
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
	switch {
	case c.AccessKey == "" || c.SecretKey == "":
		return c, errors.New("ingest: the replication identity's access key and secret key are required (--access-key; the secret key in BACKBEAT_SECRET_KEY or --secret-key-file): the account marked \"replication\" in s3server's accounts file")
	case c.Partitions < 1:
		return c, errors.New("ingest: partitions must be at least 1")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return c, errors.New("ingest: batch size must be between 1 and 10000")
	case c.MinBackoff < 0 || c.MaxBackoff < c.MinBackoff:
		return c, errors.New("ingest: backoffs must satisfy 0 < min-backoff <= max-backoff")
	case c.ZKSessionTimeout < 0 || c.PollWait < 0:
		return c, errors.New("ingest: the ZooKeeper session timeout and the poll wait must be positive")
	}
	return c, nil
}

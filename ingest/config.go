// Package ingest is the queue populator: it tails s3server's metadata journal, keeps the
// records whose replication status is PENDING, produces them to the Kafka topic
// backbeat-replication (key bucket/key, so every version of an object lands in one
// partition, in journal order) and, only once Kafka acknowledged a batch, stores the
// journal offset in ZooKeeper. One ingest is active per journal (a ZooKeeper lock); others
// wait and take over. Delivery is at-least-once: downstream dedupes.
//
// ingest knows nothing of Temporal nor of the replication work itself.
package ingest

import (
	"errors"
	"log/slog"
	"time"
)

// Config configures Run. Zero values take the documented defaults.
type Config struct {
	// S3Endpoint is the s3server base URL. Default "http://127.0.0.1:8000".
	S3Endpoint string
	// AccessKey and SecretKey of s3server's replication identity. Required.
	AccessKey, SecretKey string
	// Brokers are the Kafka bootstrap brokers. Default ["127.0.0.1:9092"].
	Brokers []string
	// Topic is the Kafka topic. Default "backbeat-replication".
	Topic string
	// Partitions is the partition count used when Run creates the topic. Default 8.
	Partitions int
	// ZooKeeper servers. Default ["127.0.0.1:2181"].
	ZooKeeper []string
	// ZKChroot prefixes every znode path. Default "/backbeat".
	ZKChroot string
	// ZKSessionTimeout is the ZooKeeper session timeout. Default 10s.
	ZKSessionTimeout time.Duration
	// BatchSize bounds the records read from the journal and produced to Kafka in one
	// batch. Default 500.
	BatchSize int
	// PollWait is the longest a journal read waits for a new record. Default 20s.
	PollWait time.Duration
	// MetricsListen is the address of /metrics and /healthz; "" disables them.
	// Default "127.0.0.1:9101" (set by the command; the library default is "").
	MetricsListen string
	// MinBackoff and MaxBackoff bound the retry delay after an error. Defaults 500ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// withDefaults returns c with defaults filled in, or an error naming what is missing.
func (c Config) withDefaults() (Config, error) {
	if c.S3Endpoint == "" {
		c.S3Endpoint = "http://127.0.0.1:8000"
	}
	if len(c.Brokers) == 0 {
		c.Brokers = []string{"127.0.0.1:9092"}
	}
	if c.Topic == "" {
		c.Topic = "backbeat-replication"
	}
	if c.Partitions == 0 {
		c.Partitions = 8
	}
	if len(c.ZooKeeper) == 0 {
		c.ZooKeeper = []string{"127.0.0.1:2181"}
	}
	if c.ZKChroot == "" {
		c.ZKChroot = "/backbeat"
	}
	if c.ZKSessionTimeout == 0 {
		c.ZKSessionTimeout = 10 * time.Second
	}
	if c.BatchSize == 0 {
		c.BatchSize = 500
	}
	if c.PollWait == 0 {
		c.PollWait = 20 * time.Second
	}
	if c.MinBackoff == 0 {
		c.MinBackoff = 500 * time.Millisecond
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.AccessKey == "" || c.SecretKey == "":
		return c, errors.New("ingest: the replication identity's access key and secret key are required (--access-key, --secret-key): the account marked \"replication\" in s3server's accounts file")
	case c.Partitions < 1:
		return c, errors.New("ingest: partitions must be at least 1")
	case c.BatchSize < 1 || c.BatchSize > 10000:
		return c, errors.New("ingest: batch size must be between 1 and 10000")
	}
	return c, nil
}

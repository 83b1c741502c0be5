// Package bridge moves Kafka entries into Temporal: a sarama consumer group on the topic
// backbeat-replication where, for each claimed partition, contiguous entries are batched
// into one signal sent with SignalWithStartWorkflow to that partition's workflow
// (contract.WorkflowID). A Kafka offset is marked for commit only after Temporal
// accepted the signal that carries it; the workflow drops entries it already accepted
// (by journal position: the journal ID and seq of the Kafka headers, or by offset for
// records without one), so a crash, a rebalance or an offset reset replays nothing
// twice. A partition is paused while its workflow's backlog (the status query) is above
// a high-water mark; a watchdog reports partitions no live member consumes.
//
// The bridge knows nothing of S3: it decodes each message into a bbproto.Record (a
// message that is not one is counted and logged, not replicated) only to build the
// contract.Entry the workflow takes; it reads no object and calls no S3 endpoint.
package bridge

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
	"github.com/backbeat-temporal/backbeat/internal/tlsconf"
)

// Config configures Run. Zero values take the documented defaults.
type Config struct {
	// Brokers are the Kafka bootstrap brokers. Default ["127.0.0.1:9092"].
	Brokers []string
	// Kafka is the TLS and SASL setting of the Kafka connections. Default: plain text,
	// no SASL.
	Kafka kafkaconf.Security
	// Topic is the Kafka topic. Default contract.DefaultTopic ("backbeat-replication").
	Topic string
	// Group is the Kafka consumer group. Default "backbeat-replication-group".
	Group string
	// TemporalAddress is the Temporal frontend host:port. Default "127.0.0.1:7233".
	TemporalAddress string
	// Namespace is the Temporal namespace. Default "default".
	Namespace string
	// TemporalTLS is the TLS (mTLS with a client certificate) setting of the connection
	// to Temporal. Default: plain text.
	TemporalTLS tlsconf.Client
	// TaskQueue of the partition workflows. Default contract.TaskQueue.
	TaskQueue string
	// BatchEntries bounds the entries of one signal.
	// Default 100 (contract.MaxEntriesPerSignal, also the largest allowed).
	BatchEntries int
	// BatchBytes bounds the encoded size of one signal's entries. Default 512 KiB
	// (Temporal refuses payloads above 2 MB).
	BatchBytes int
	// BatchLinger paces a partition's signals: a batch goes at once when the partition's
	// previous signal left at least BatchLinger ago (an entry after a quiet spell waits
	// for nothing), else BatchLinger after it, with what arrived meanwhile; a full batch
	// (BatchEntries, BatchBytes) goes at once. So a partition's workflow gets at most
	// one signal per BatchLinger under load (Temporal's guidance: 5-30 signals/s into one
	// workflow) and idle latency pays no linger. Default 200ms.
	BatchLinger time.Duration
	// HighWater pauses a partition while its workflow's backlog is at or above it.
	// Default contract.DefaultHighWater.
	HighWater int
	// HighWaterBytes pauses a partition while its workflow's backlog holds at least this
	// many encoded bytes (the queue is carried across ContinueAsNew, under Temporal's 2 MB
	// payload limit). Default contract.DefaultHighWaterBytes.
	HighWaterBytes int
	// LowWater resumes a paused partition once the backlog is at or below it.
	// Default HighWater/2.
	LowWater int
	// BacklogCheck is how often the backlog is queried while entries flow, and polled
	// while a partition is paused. Default 1s.
	BacklogCheck time.Duration
	// StatusPoll is how often the status of each claimed partition's workflow is queried
	// for the metrics (backlog, the workflow's counters), traffic or not. Default 5s.
	StatusPoll time.Duration
	// DrainTimeout bounds the last send when a claim ends (rebalance or clean stop): the
	// batch in hand is sent so that the next owner does not send it again. Default 15s.
	DrainTimeout time.Duration
	// StuckAfter is how long a partition may hold entries that no live bridge consumes
	// (its committed offset does not move while its workflow has room) before the bridge
	// reports it on /healthz (503, check "partitions") and in
	// backbeat_bridge_stuck_partitions, logs an error and rejoins the consumer group to
	// force a rebalance (at most once per StuckAfter); a group rebalancing for longer is
	// reported the same way (no rejoin). The group is checked every StuckAfter/6.
	// Default 60s.
	StuckAfter time.Duration
	// Workflow configures workflows started by the bridge (retries, ContinueAsNew).
	// Default: the workflows package defaults.
	Workflow contract.Config
	// MetricsListen is the address of /metrics and /healthz; "" disables them.
	// Default "" in the library; DefaultMetricsListen ("127.0.0.1:9102") in the command.
	MetricsListen string
	// MinBackoff and MaxBackoff bound the retry delay after an error. Defaults 200ms, 30s.
	MinBackoff, MaxBackoff time.Duration
	// Logger receives structured logs. Default slog.Default().
	Logger *slog.Logger
}

// DefaultMetricsListen is the command's address of /metrics and /healthz (the
// library's zero value "" disables them).
const DefaultMetricsListen = "127.0.0.1:9102"

// DefaultConfig returns the defaults of the Config fields, the values the command's
// flags start from; Run fills a zero field with the same value (MetricsListen excepted:
// "" disables the metrics; LowWater: HighWater/2). Logger has no default.
func DefaultConfig() Config {
	return Config{
		Brokers:         []string{"127.0.0.1:9092"},
		Topic:           contract.DefaultTopic,
		Group:           "backbeat-replication-group",
		TemporalAddress: "127.0.0.1:7233",
		Namespace:       "default",
		TaskQueue:       contract.TaskQueue,
		BatchEntries:    contract.MaxEntriesPerSignal,
		BatchBytes:      512 << 10,
		BatchLinger:     200 * time.Millisecond,
		HighWater:       contract.DefaultHighWater,
		HighWaterBytes:  contract.DefaultHighWaterBytes,
		BacklogCheck:    time.Second,
		StatusPoll:      5 * time.Second,
		DrainTimeout:    15 * time.Second,
		StuckAfter:      time.Minute,
		MetricsListen:   DefaultMetricsListen,
		MinBackoff:      200 * time.Millisecond,
		MaxBackoff:      30 * time.Second,
	}
}

// withDefaults returns c with defaults filled in, or an error saying what is wrong.
func (c Config) withDefaults() (Config, error) {
	d := DefaultConfig()
	if len(c.Brokers) == 0 {
		c.Brokers = d.Brokers
	}
	if c.Topic == "" {
		c.Topic = d.Topic
	}
	if c.Group == "" {
		c.Group = d.Group
	}
	if c.TemporalAddress == "" {
		c.TemporalAddress = d.TemporalAddress
	}
	if c.Namespace == "" {
		c.Namespace = d.Namespace
	}
	if c.TaskQueue == "" {
		c.TaskQueue = d.TaskQueue
	}
	if c.BatchEntries == 0 {
		c.BatchEntries = d.BatchEntries
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = d.BatchBytes
	}
	if c.BatchLinger == 0 {
		c.BatchLinger = d.BatchLinger
	}
	if c.HighWater == 0 {
		c.HighWater = d.HighWater
	}
	if c.HighWaterBytes == 0 {
		c.HighWaterBytes = d.HighWaterBytes
	}
	if c.LowWater == 0 {
		c.LowWater = c.HighWater / 2
	}
	if c.BacklogCheck == 0 {
		c.BacklogCheck = d.BacklogCheck
	}
	if c.StatusPoll == 0 {
		c.StatusPoll = d.StatusPoll
	}
	if c.DrainTimeout == 0 {
		c.DrainTimeout = d.DrainTimeout
	}
	if c.StuckAfter == 0 {
		c.StuckAfter = d.StuckAfter
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
	case c.BatchEntries < 1 || c.BatchEntries > contract.MaxEntriesPerSignal:
		return c, fmt.Errorf("bridge: batch entries must be between 1 and %d", contract.MaxEntriesPerSignal)
	case c.BatchBytes < 1<<10 || c.BatchBytes > 1<<20:
		return c, errors.New("bridge: batch bytes must be between 1 KiB and 1 MiB (Temporal payloads are capped at 2 MB)")
	case c.LowWater < 0 || c.LowWater >= c.HighWater:
		return c, errors.New("bridge: the low-water mark must be below the high-water mark")
	}
	return c, nil
}

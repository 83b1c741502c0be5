// Package devbroker runs a single-node Kafka-protocol broker for development, tests, CI
// and the demo. It wraps github.com/twmb/franz-go/pkg/kfake, an in-process
// implementation of the Kafka wire protocol (produce, fetch, consumer groups, offset
// commits, idempotent producers, admin requests), and is what cmd/devbroker runs.
// It is not Kafka: use a real Kafka cluster in production.
//
// # Durability
//
// With [Config.DataDir] set, kfake persists its state under that directory and reloads
// it on start:
//
//   - every produced record batch is written (one write(2) per batch, to the active
//     segment and index files of its partition) before the produce request is answered;
//   - every consumer-group event, including each committed offset, is appended to
//     groups.log before the commit is answered; producer IDs go to pids.log the same way;
//   - topic metadata (topics.json) is rewritten atomically (temp file, fsync, rename) on
//     every create, delete or partition change.
//
// Those writes reach the operating system's page cache before the client sees the
// acknowledgement, so they survive the broker process being killed with SIGKILL: on
// restart kfake replays the segment files and groups.log (a torn trailing entry is
// detected by its CRC and dropped). What only a graceful stop (SIGTERM/SIGINT, or
// context cancellation in [Run]) writes is the idempotent-producer sequence windows
// (seq_windows.json), per-partition snapshots (snapshot.json, an optimisation: without
// it the segments are replayed) and live group session state. After a SIGKILL the
// broker therefore has no sequence window for the producers it knew: it accepts their
// next batch whatever its sequence, so an idempotent producer that retries a batch
// that was written but not acknowledged before the kill writes it twice
// (at-least-once, as with any acks=all Kafka producer that loses its broker state).
// kfake keeps seq_windows.json after loading it, and would load those stale windows
// after a later SIGKILL and then reject every batch of a producer that produced in
// between; [Start] removes the file once kfake has loaded it (see dropSeqWindows).
// Without [Config.SyncWrites] nothing is fsynced per batch, like Kafka's default
// (log.flush.interval.messages=MAX): an operating-system crash or power loss can lose
// the most recent acknowledged writes. SyncWrites fsyncs every batch and every group and
// producer-ID log entry before answering.
package devbroker

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twmb/franz-go/pkg/kfake"
)

// Defaults of [Config].
const (
	// DefaultListen is the address the broker listens on when Config.Listen is empty.
	DefaultListen = "127.0.0.1:9092"
	// DefaultPartitions is the partition count of auto-created topics when
	// Config.Partitions is 0. It equals the partition count ingest uses when it creates
	// backbeat-replication, so a topic that a consumer happens to auto-create first has
	// the same shape.
	DefaultPartitions = 8
	// ClusterID is the cluster ID the broker reports in metadata responses.
	ClusterID = "backbeat-devbroker"
)

// Topic is a topic to create at start when it does not exist yet.
type Topic struct {
	// Name of the topic.
	Name string
	// Partitions of the topic; 0 means Config.Partitions.
	Partitions int
}

// ParseTopics parses a comma-separated list of topics, each "name" or
// "name:partitions" (for example "backbeat-replication:8,other"). An empty string
// gives no topics.
func ParseTopics(s string) ([]Topic, error) {
	var out []Topic
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		name, parts, hasParts := strings.Cut(item, ":")
		t := Topic{Name: strings.TrimSpace(name)}
		if t.Name == "" {
			return nil, fmt.Errorf("topic %q: empty name", item)
		}
		if hasParts {
			n, err := strconv.Atoi(strings.TrimSpace(parts))
			if err != nil || n < 1 {
				return nil, fmt.Errorf("topic %q: partitions must be a positive integer", item)
			}
			t.Partitions = n
		}
		out = append(out, t)
	}
	return out, nil
}

// Config configures the broker. The zero value (plus a Logger, optional) runs an
// in-memory broker on DefaultListen.
type Config struct {
	// Listen is the TCP address to listen on and to advertise to clients in metadata
	// responses, so it must be an address clients can dial (not 0.0.0.0). Port 0
	// picks a free port: see [Broker.Addr]. Default DefaultListen (127.0.0.1:9092).
	Listen string
	// DataDir is where topics, records and committed offsets are kept across restarts
	// (created if missing). Empty (the default) keeps everything in memory.
	DataDir string
	// Partitions is the partition count of auto-created topics, of CreateTopics
	// requests asking for the default (-1), and of Topics without a count.
	// Default DefaultPartitions (8).
	Partitions int
	// Topics are created at start when missing (also on a restart with an existing
	// DataDir). An existing topic is left as it is, even if its partition count
	// differs. Default none.
	Topics []Topic
	// NoAutoCreateTopics refuses to create topics from metadata requests (Kafka's
	// auto.create.topics.enable=false). Default false: metadata requests that ask for
	// it create the topic with Partitions partitions, as Kafka does by default.
	NoAutoCreateTopics bool
	// SyncWrites fsyncs every record batch and every group/producer log entry before
	// answering (see the package documentation). Default false.
	SyncWrites bool
	// Logger receives the broker's logs; kfake's own messages are logged at Debug
	// (kfake info), Warn and Error levels. Default slog.Default().
	Logger *slog.Logger
}

func (c *Config) defaults() {
	if c.Listen == "" {
		c.Listen = DefaultListen
	}
	if c.Partitions == 0 {
		c.Partitions = DefaultPartitions
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	host, _, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return fmt.Errorf("listen address %q: %w", c.Listen, err)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		return fmt.Errorf("listen address %q: the broker advertises this address to clients, give a host they can dial (e.g. 127.0.0.1)", c.Listen)
	}
	if c.Partitions < 1 {
		return fmt.Errorf("partitions %d: must be at least 1", c.Partitions)
	}
	for _, t := range c.Topics {
		if t.Name == "" || t.Partitions < 0 {
			return fmt.Errorf("topic %+v: needs a name and a non-negative partition count", t)
		}
	}
	return nil
}

// Broker is a running broker, made by [Start].
type Broker struct {
	cluster *kfake.Cluster
	addr    string
	log     *slog.Logger
}

// Start starts the broker and returns once it accepts connections and the configured
// topics exist. The caller must Close it.
func Start(cfg Config) (*Broker, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	listen := func(network, _ string) (net.Listener, error) {
		return net.Listen(network, cfg.Listen)
	}
	opts := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.ListenFn(listen),
		kfake.ClusterID(ClusterID),
		kfake.DefaultNumPartitions(cfg.Partitions),
		kfake.WithLogger(kfakeLogger{cfg.Logger}),
	}
	if !cfg.NoAutoCreateTopics {
		opts = append(opts, kfake.AllowAutoTopicCreation())
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	if cfg.SyncWrites {
		opts = append(opts, kfake.SyncWrites())
	}
	cluster, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("start kfake broker on %s (data dir %q): %w", cfg.Listen, cfg.DataDir, err)
	}
	b := &Broker{cluster: cluster, addr: cluster.ListenAddrs()[0], log: cfg.Logger}
	if cfg.DataDir != "" {
		if err := dropSeqWindows(cfg.DataDir); err != nil {
			b.Close()
			return nil, err
		}
	}
	for _, t := range cfg.Topics {
		if err := b.ensureTopic(t, cfg.Partitions); err != nil {
			b.Close()
			return nil, err
		}
	}
	return b, nil
}

func (b *Broker) ensureTopic(t Topic, def int) error {
	want := t.Partitions
	if want == 0 {
		want = def
	}
	if b.cluster.TopicInfo(t.Name) != nil {
		if have := len(b.cluster.PartitionInfos(t.Name)); have != want {
			b.log.Warn("topic exists with another partition count; left as is", "topic", t.Name, "partitions", have, "configured", want)
		}
		return nil
	}
	if err := b.cluster.CreateTopic(t.Name, int32(want), nil); err != nil {
		return fmt.Errorf("create topic %s with %d partitions: %w", t.Name, want, err)
	}
	b.log.Info("created topic", "topic", t.Name, "partitions", want)
	return nil
}

// seqWindowsFile is where kfake saves the idempotent-producer sequence windows on a
// graceful stop and reads them back on start.
const seqWindowsFile = "seq_windows.json"

// dropSeqWindows removes the sequence windows kfake has just loaded. kfake leaves the
// file in place (unlike its session_state.json, removed once loaded), so after a later
// kill -9 it would load windows from the previous graceful stop: stale sequences that
// make it reject every batch of a producer that kept producing in between
// (OUT_OF_ORDER_SEQUENCE_NUMBER). Without the file a restarted broker accepts the next
// sequence of a producer it has no window for, as it does after any crash. A graceful
// stop writes the file again.
func dropSeqWindows(dataDir string) error {
	err := os.Remove(filepath.Join(dataDir, seqWindowsFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove stale %s: %w", seqWindowsFile, err)
	}
	d, err := os.Open(dataDir)
	if err != nil {
		return fmt.Errorf("sync %s: %w", dataDir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dataDir, err)
	}
	return nil
}

// Addr returns the host:port the broker listens on and advertises.
func (b *Broker) Addr() string { return b.addr }

// Close stops accepting connections and, with a DataDir, writes the state that only a
// graceful stop persists (see the package documentation). It is safe to call twice.
func (b *Broker) Close() { b.cluster.Close() }

// Run starts the broker, logs "listening on" with its address, serves until ctx is
// done, then closes it gracefully. It returns an error only when the broker cannot
// start.
func Run(ctx context.Context, cfg Config) error {
	cfg.defaults()
	b, err := Start(cfg)
	if err != nil {
		return err
	}
	cfg.Logger.Info("devbroker listening on "+b.Addr(), "addr", b.Addr(), "dataDir", cfg.DataDir,
		"partitions", cfg.Partitions, "autoCreateTopics", !cfg.NoAutoCreateTopics, "syncWrites", cfg.SyncWrites)
	<-ctx.Done()
	cfg.Logger.Info("devbroker stopping", "cause", context.Cause(ctx))
	b.Close()
	cfg.Logger.Info("devbroker stopped")
	return nil
}

// kfakeLogger forwards kfake's printf-style logs to slog.
type kfakeLogger struct{ l *slog.Logger }

func (k kfakeLogger) Logf(level kfake.LogLevel, format string, args ...any) {
	var l slog.Level
	switch level {
	case kfake.LogLevelError:
		l = slog.LevelError
	case kfake.LogLevelWarn:
		l = slog.LevelWarn
	case kfake.LogLevelInfo, kfake.LogLevelDebug:
		// kfake logs every request at info: that is debug for us.
		l = slog.LevelDebug
	default:
		return
	}
	ctx := context.Background()
	if !k.l.Enabled(ctx, l) {
		return
	}
	k.l.Log(ctx, l, fmt.Sprintf(format, args...), "component", "kfake")
}

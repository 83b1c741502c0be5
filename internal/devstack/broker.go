package devstack

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/backbeat-temporal/backbeat/internal/devbroker"
)

// BrokerOption configures StartBroker.
type BrokerOption func(*brokerOptions)

type brokerOptions struct {
	memory     bool
	partitions int
	topics     []string
}

// BrokerInMemory keeps everything in memory (no --data-dir): a restart starts empty.
// Default: off (the data lives in a new directory under t.TempDir(), so that Kill and
// Restart keep it).
func BrokerInMemory() BrokerOption { return func(o *brokerOptions) { o.memory = true } }

// BrokerPartitions sets the partition count of auto-created topics (--partitions).
// Default: the devbroker's default, 8.
func BrokerPartitions(n int) BrokerOption { return func(o *brokerOptions) { o.partitions = n } }

// BrokerTopics creates these topics at start, each "name" or "name:partitions"
// (--seed-topics). Default none.
func BrokerTopics(topics ...string) BrokerOption {
	return func(o *brokerOptions) { o.topics = append(o.topics, topics...) }
}

// Broker is a cmd/devbroker process started by StartBroker.
type Broker struct {
	t       testing.TB
	proc    *Process
	port    int
	dataDir string
}

// StartBroker builds cmd/devbroker (once per test binary, see Build), runs it on a
// FreePort of 127.0.0.1 with a data directory under t.TempDir(), writes not fsynced
// (kill -9 loses nothing without it), and returns once it answers a Kafka metadata
// request (and the BrokerTopics exist), waiting DefaultReadyTimeout at most. It is
// stopped when the test ends.
func StartBroker(t testing.TB, opts ...BrokerOption) *Broker {
	t.Helper()
	var o brokerOptions
	for _, opt := range opts {
		opt(&o)
	}
	bin := Build(t, "cmd/devbroker")
	b := &Broker{t: t, port: FreePort(t)}
	if !o.memory {
		b.dataDir = filepath.Join(t.TempDir(), "kafka")
	}
	// Every flag is given, so that BACKBEAT_* variables of the developer's shell do
	// not leak into the test's broker.
	partitions := devbroker.DefaultPartitions
	if o.partitions > 0 {
		partitions = o.partitions
	}
	args := []string{
		"--listen", b.Addr(),
		"--data-dir", b.dataDir,
		"--partitions", strconv.Itoa(partitions),
		"--seed-topics", strings.Join(o.topics, ","),
		"--auto-create-topics=true",
		"--sync=false",
		"--log-level", "info",
	}
	addr := b.Addr()
	var topics []string
	for _, tp := range o.topics {
		name, _, _ := strings.Cut(tp, ":")
		topics = append(topics, strings.TrimSpace(name))
	}
	b.proc = StartProcess(t, Command{
		Name:         "devbroker-" + strconv.Itoa(b.port),
		Path:         bin,
		Args:         args,
		Ready:        func(ctx context.Context) error { return KafkaReady(ctx, addr, topics...) },
		ReadyTimeout: DefaultReadyTimeout,
	})
	return b
}

// KafkaReady asks the Kafka-protocol broker at addr for metadata (an ApiVersions
// exchange, then a Metadata request for topics, without creating them) and returns nil
// when it answers and every topic listed exists. It is the readiness probe of
// StartBroker, usable for any broker.
func KafkaReady(ctx context.Context, addr string, topics ...string) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "devstack-probe"
	timeout := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = max(time.Until(dl), time.Millisecond)
	}
	cfg.Net.DialTimeout, cfg.Net.ReadTimeout, cfg.Net.WriteTimeout = timeout, timeout, timeout
	// Fail fast if the port is closed, without sarama's dial machinery.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("kafka at %s: %w", addr, err)
	}
	conn.Close()
	br := sarama.NewBroker(addr)
	if err := br.Open(cfg); err != nil {
		return fmt.Errorf("kafka at %s: %w", addr, err)
	}
	defer br.Close()
	req := sarama.NewMetadataRequest(cfg.Version, topics)
	req.AllowAutoTopicCreation = false
	md, err := br.GetMetadata(req)
	if err != nil {
		return fmt.Errorf("kafka metadata from %s: %w", addr, err)
	}
	if len(md.Brokers) == 0 {
		return fmt.Errorf("kafka metadata from %s lists no broker", addr)
	}
	for _, tm := range md.Topics {
		if tm.Err != sarama.ErrNoError {
			return fmt.Errorf("kafka topic %s on %s: %w", tm.Name, addr, tm.Err)
		}
	}
	return nil
}

// Addr returns "127.0.0.1:PORT", the bootstrap address (BACKBEAT_KAFKA_BROKERS).
func (b *Broker) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(b.port)) }

// Port returns the broker's port.
func (b *Broker) Port() int { return b.port }

// DataDir returns the broker's data directory ("" with BrokerInMemory).
func (b *Broker) DataDir() string { return b.dataDir }

// Process returns the underlying process (log, pid, error-returning controls).
func (b *Broker) Process() *Process { return b.proc }

// Stop stops the broker with SIGTERM (it then saves its state; SIGKILL after
// DefaultStopTimeout) and fails the test if it had to be killed.
func (b *Broker) Stop() {
	b.t.Helper()
	if err := b.proc.Stop(); err != nil {
		b.t.Fatalf("devstack: %v", err)
	}
}

// Kill kills the broker with SIGKILL (kill -9) and waits until it is gone.
func (b *Broker) Kill() {
	b.t.Helper()
	if err := b.proc.Kill(); err != nil {
		b.t.Fatalf("devstack: %v", err)
	}
}

// Restart stops the broker if it runs, starts it again on the same port with the same
// data directory and waits until it answers; it fails the test on error.
func (b *Broker) Restart() {
	b.t.Helper()
	if err := b.proc.Restart(); err != nil {
		b.t.Fatalf("devstack: restart broker: %v", err)
	}
}

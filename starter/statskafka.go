package starter

import (
	"context"
	"fmt"
	"strings"

	"github.com/IBM/sarama"
)

// Defaults of stats' Kafka flags: the demo's broker and the bridge's consumer group.
const (
	// DefaultKafkaBrokers are the Kafka bootstrap brokers (flag --kafka-brokers).
	DefaultKafkaBrokers = "127.0.0.1:9092"
	// DefaultGroup is the bridge's consumer group (flag --group).
	DefaultGroup = "backbeat-replication-group"
)

// KafkaLag is a partition's lag: the replication topic's high watermark minus the
// bridge consumer group's committed offset (the messages not yet in Temporal).
type KafkaLag struct {
	Partition int32 `json:"partition"`
	// HighWatermark is the offset the next message will have.
	HighWatermark int64 `json:"highWatermark"`
	// Committed is the group's committed offset (the next message to consume); -1 when
	// the group committed none (then the lag counts from the oldest message kept).
	Committed int64 `json:"committed"`
	Lag       int64 `json:"lag"`
}

// kafkaLag reads the lag of every partition of the topic for the group.
func (a *app) kafkaLag(ctx context.Context, o statsOptions) ([]KafkaLag, error) {
	brokers := strings.Split(o.brokers, ",")
	c := sarama.NewConfig()
	c.ClientID = "backbeat-starter"
	c.Version = sarama.V2_8_0_0
	c.Net.DialTimeout, c.Net.ReadTimeout, c.Net.WriteTimeout = a.timeout, a.timeout, a.timeout
	c.Metadata.Retry.Max = 0
	if err := o.kafka.Apply(c); err != nil {
		return nil, fmt.Errorf("Kafka lag: %w", err)
	}
	explain := func(what string, err error) error {
		err = o.kafka.Explain(err, brokers)
		return fmt.Errorf("Kafka lag: %s at %s: %w (is Kafka up? check --kafka-brokers)", what, o.brokers, err)
	}
	type result struct {
		lags []KafkaLag
		err  error
	}
	done := make(chan result, 1)
	go func() { // sarama takes no context: the caller's ends the wait
		client, err := sarama.NewClient(brokers, c)
		if err != nil {
			done <- result{err: explain("connect", err)}
			return
		}
		admin, err := sarama.NewClusterAdminFromClient(client) // closing it closes client
		if err != nil {
			client.Close()
			done <- result{err: explain("connect", err)}
			return
		}
		defer admin.Close()
		lags, err := lagOf(client, admin, a.topic, o.group)
		if err != nil {
			err = explain("read offsets", err)
		}
		done <- result{lags, err}
	}()
	select {
	case r := <-done:
		return r.lags, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("Kafka lag: %w", ctx.Err())
	}
}

// lagOf reads the partitions' high watermarks and the group's committed offsets.
func lagOf(client sarama.Client, admin sarama.ClusterAdmin, topic, group string) ([]KafkaLag, error) {
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, fmt.Errorf("partitions of topic %s: %w", topic, err)
	}
	committed, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	if err != nil {
		return nil, fmt.Errorf("offsets of group %s: %w", group, err)
	}
	if committed.Err != sarama.ErrNoError {
		return nil, fmt.Errorf("offsets of group %s: %w", group, committed.Err)
	}
	out := make([]KafkaLag, 0, len(parts))
	for _, p := range parts {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, fmt.Errorf("high watermark of %s/%d: %w", topic, p, err)
		}
		l := KafkaLag{Partition: p, HighWatermark: hwm, Committed: -1}
		if b := committed.GetBlock(topic, p); b != nil && b.Err == sarama.ErrNoError {
			l.Committed = b.Offset
		}
		from := l.Committed
		if from < 0 { // nothing committed: the bridge starts from the oldest message
			if from, err = client.GetOffset(topic, p, sarama.OffsetOldest); err != nil {
				return nil, fmt.Errorf("oldest offset of %s/%d: %w", topic, p, err)
			}
		}
		l.Lag = max(hwm-from, 0)
		out = append(out, l)
	}
	return out, nil
}

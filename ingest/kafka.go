package ingest

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/kafkaconf"
)

// MessageKey is the Kafka key of a record (contract.ObjectKey): every version of one
// object goes to one partition, so the object's entries stay in journal order.
func MessageKey(r *bbproto.Record) string { return contract.ObjectKey(r.Bucket, r.Key) }

// kafkaProducer produces batches with an idempotent, acks=all producer.
type kafkaProducer struct {
	client   sarama.Client
	producer sarama.SyncProducer
	topic    string
}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "backbeat-ingest"
	c.Version = sarama.V2_8_0_0
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Retry.Max = 5
	c.Producer.Retry.Backoff = 200 * time.Millisecond
	c.Net.MaxOpenRequests = 1 // required by the idempotent producer
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Metadata.Retry.Max = 2
	c.Net.DialTimeout = 5 * time.Second
	return c
}

// newKafkaProducer connects and creates the topic when it does not exist.
func newKafkaProducer(brokers []string, sec kafkaconf.Security, topic string, partitions int) (*kafkaProducer, error) {
	c := saramaConfig()
	if err := sec.Apply(c); err != nil {
		return nil, err
	}
	client, err := sarama.NewClient(brokers, c)
	if err != nil {
		return nil, fmt.Errorf("connect to Kafka %s: %w", strings.Join(brokers, ","), sec.Explain(err, brokers))
	}
	if err := ensureTopic(client, topic, partitions); err != nil {
		client.Close()
		return nil, err
	}
	p, err := sarama.NewSyncProducerFromClient(client)
	if err != nil {
		client.Close()
		return nil, fmt.Errorf("start Kafka producer: %w", err)
	}
	return &kafkaProducer{client: client, producer: p, topic: topic}, nil
}

func ensureTopic(client sarama.Client, topic string, partitions int) error {
	topics, err := client.Topics()
	if err != nil {
		return fmt.Errorf("list Kafka topics: %w", err)
	}
	for _, t := range topics {
		if t == topic {
			return nil
		}
	}
	admin, err := sarama.NewClusterAdminFromClient(client)
	if err != nil {
		return fmt.Errorf("Kafka admin client: %w", err)
	}
	err = admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: int32(partitions), ReplicationFactor: 1}, false)
	if err != nil && !errors.Is(err, sarama.ErrTopicAlreadyExists) {
		var te *sarama.TopicError
		if !errors.As(err, &te) || te.Err != sarama.ErrTopicAlreadyExists {
			return fmt.Errorf("create Kafka topic %s with %d partitions: %w", topic, partitions, err)
		}
	}
	return client.RefreshMetadata(topic)
}

// Produce sends the records as one batch and returns once Kafka acknowledged all of them
// (acks=all), with the bytes sent.
func (p *kafkaProducer) Produce(journalID string, recs []bbproto.Record) (int, error) {
	if len(recs) == 0 {
		return 0, nil
	}
	msgs := make([]*sarama.ProducerMessage, len(recs))
	bytes := 0
	for i := range recs {
		val, err := json.Marshal(&recs[i])
		if err != nil {
			return 0, fmt.Errorf("encode journal record %d: %w", recs[i].Seq, err)
		}
		key := MessageKey(&recs[i])
		bytes += len(val) + len(key)
		msgs[i] = &sarama.ProducerMessage{
			Topic: p.topic,
			Key:   sarama.StringEncoder(key),
			Value: sarama.ByteEncoder(val),
			Headers: []sarama.RecordHeader{
				{Key: []byte(contract.HeaderJournalID), Value: []byte(journalID)},
				{Key: []byte(contract.HeaderSeq), Value: []byte(strconv.FormatUint(recs[i].Seq, 10))},
			},
		}
	}
	if err := p.producer.SendMessages(msgs); err != nil {
		return 0, fmt.Errorf("produce %d entries to Kafka topic %s: %w", len(msgs), p.topic, err)
	}
	return bytes, nil
}

// Close flushes and closes the producer and its client.
func (p *kafkaProducer) Close() error {
	err := p.producer.Close()
	if cerr := p.client.Close(); cerr != nil && !errors.Is(cerr, sarama.ErrClosedClient) {
		err = errors.Join(err, cerr)
	}
	return err
}

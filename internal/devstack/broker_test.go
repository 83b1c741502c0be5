package devstack

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// saramaConfig is the client configuration the project uses against the broker:
// an idempotent, acks=all producer and consumer groups with explicit commits.
func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "devstack-test"
	c.Version = sarama.V2_8_0_0
	c.Producer.Idempotent = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Producer.Return.Successes = true
	c.Producer.Retry.Max = 10
	c.Producer.Retry.Backoff = 100 * time.Millisecond
	c.Producer.Partitioner = sarama.NewHashPartitioner
	c.Net.MaxOpenRequests = 1
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Consumer.MaxWaitTime = 50 * time.Millisecond // short fetch long-polls: quick partition-consumer closes
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	c.Consumer.Group.Rebalance.GroupStrategies = []sarama.BalanceStrategy{sarama.NewBalanceStrategyRange()}
	return c
}

func produce(t *testing.T, p sarama.SyncProducer, topic string, from, to int) {
	t.Helper()
	var msgs []*sarama.ProducerMessage
	for i := from; i < to; i++ {
		msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("key-%d", i%7)), Value: sarama.StringEncoder(fmt.Sprintf("m%02d", i))})
	}
	require.NoError(t, p.SendMessages(msgs))
}

// groupHandler collects messages until it has want of them, then commits and stops.
type groupHandler struct {
	mu     sync.Mutex
	want   int
	got    []string
	cancel context.CancelFunc
}

func (h *groupHandler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *groupHandler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *groupHandler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for msg := range claim.Messages() {
		h.mu.Lock()
		h.got = append(h.got, string(msg.Value))
		sess.MarkMessage(msg, "")
		done := len(h.got) == h.want
		h.mu.Unlock()
		if done {
			sess.Commit()
			h.cancel()
		}
	}
	return nil
}

// consumeGroup consumes want messages of topic as group, commits them, and returns
// their values sorted.
func consumeGroup(t *testing.T, addr, group, topic string, want int) []string {
	t.Helper()
	cg, err := sarama.NewConsumerGroup([]string{addr}, group, saramaConfig())
	require.NoError(t, err)
	defer cg.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	h := &groupHandler{want: want, cancel: cancel}
	for ctx.Err() == nil {
		require.NoError(t, cg.Consume(ctx, []string{topic}, h))
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	require.Len(t, h.got, want, "consumed before the deadline")
	sort.Strings(h.got)
	return h.got
}

func values(from, to int) []string {
	var v []string
	for i := from; i < to; i++ {
		v = append(v, fmt.Sprintf("m%02d", i))
	}
	return v
}

// readAll reads every record of topic with a plain consumer, sorted.
func readAll(t *testing.T, client sarama.Client, topic string) []string {
	t.Helper()
	require.NoError(t, client.RefreshMetadata(topic))
	parts, err := client.Partitions(topic)
	require.NoError(t, err)
	c, err := sarama.NewConsumerFromClient(client)
	require.NoError(t, err)
	defer c.Close()
	var out []string
	for _, p := range parts {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		require.NoError(t, err)
		if hwm == 0 {
			continue
		}
		pc, err := c.ConsumePartition(topic, p, sarama.OffsetOldest)
		require.NoError(t, err)
		for {
			select {
			case msg := <-pc.Messages():
				out = append(out, string(msg.Value))
				if msg.Offset == hwm-1 {
					goto next
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("partition %d: no record before offset %d", p, hwm)
			}
		}
	next:
		pc.Close()
	}
	sort.Strings(out)
	return out
}

// committed returns the group's committed offset per partition of topic.
func committed(t *testing.T, admin sarama.ClusterAdmin, group, topic string) map[int32]int64 {
	t.Helper()
	resp, err := admin.ListConsumerGroupOffsets(group, nil)
	require.NoError(t, err)
	out := map[int32]int64{}
	for p, b := range resp.Blocks[topic] {
		require.Equal(t, sarama.ErrNoError, b.Err, "partition %d", p)
		out[p] = b.Offset
	}
	return out
}

func newClient(t *testing.T, addr string) (sarama.Client, sarama.ClusterAdmin) {
	t.Helper()
	client, err := sarama.NewClient([]string{addr}, saramaConfig())
	require.NoError(t, err)
	admin, err := sarama.NewClusterAdminFromClient(client)
	require.NoError(t, err)
	t.Cleanup(func() { admin.Close() }) // closes client too
	return client, admin
}

func TestBrokerProduceConsumeKillRestart(t *testing.T) {
	SkipShort(t, startsProcesses)
	t.Parallel()
	b := StartBroker(t)
	assert.NotEqual(t, 9092, b.Port(), "a free port, not the default")
	client, admin := newClient(t, b.Addr())

	const topic = "orders"
	require.NoError(t, admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 4, ReplicationFactor: 1}, false))
	require.NoError(t, client.RefreshMetadata(topic))
	parts, err := client.Partitions(topic)
	require.NoError(t, err)
	assert.Len(t, parts, 4, "an explicitly created topic has the partitions asked for")

	producer, err := sarama.NewSyncProducerFromClient(client)
	require.NoError(t, err)
	defer producer.Close()
	produce(t, producer, topic, 0, 20)

	assert.Equal(t, values(0, 20), consumeGroup(t, b.Addr(), "g1", topic, 20))
	before := committed(t, admin, "g1", topic)
	var sum int64
	for _, off := range before {
		sum += off
	}
	assert.EqualValues(t, 20, sum, "the group committed every record")

	produce(t, producer, topic, 20, 25)

	b.Kill()
	b.Restart()

	client2, admin2 := newClient(t, b.Addr())
	require.NoError(t, client2.RefreshMetadata(topic))
	parts, err = client2.Partitions(topic)
	require.NoError(t, err)
	assert.Len(t, parts, 4, "the topic survives kill -9")
	assert.Equal(t, values(0, 25), readAll(t, client2, topic), "every acknowledged record survives kill -9")
	assert.Equal(t, before, committed(t, admin2, "g1", topic), "committed offsets survive kill -9")

	// The producer that was connected before the crash keeps working, and the group
	// resumes from its committed offsets.
	produce(t, producer, topic, 25, 30)
	assert.Equal(t, values(20, 30), consumeGroup(t, b.Addr(), "g1", topic, 10))
	assert.Equal(t, values(0, 30), readAll(t, client2, topic), "no record lost or duplicated")

	// A graceful stop and restart keeps everything as well.
	b.Stop()
	b.Restart()
	client3, admin3 := newClient(t, b.Addr())
	assert.Equal(t, values(0, 30), readAll(t, client3, topic))
	var sum3 int64
	for _, off := range committed(t, admin3, "g1", topic) {
		sum3 += off
	}
	assert.EqualValues(t, 30, sum3)
}

func TestBrokerTopicsAndDefaults(t *testing.T) {
	SkipShort(t, startsProcesses)
	t.Parallel()
	b := StartBroker(t, BrokerTopics("seeded:3", "plain"), BrokerPartitions(2), BrokerInMemory())
	assert.Empty(t, b.DataDir())
	client, _ := newClient(t, b.Addr())
	for topic, want := range map[string]int{"seeded": 3, "plain": 2} {
		parts, err := client.Partitions(topic)
		require.NoError(t, err, topic)
		assert.Len(t, parts, want, topic)
	}

	// An auto-created topic gets --partitions partitions.
	producer, err := sarama.NewSyncProducerFromClient(client)
	require.NoError(t, err)
	defer producer.Close()
	produce(t, producer, "auto", 0, 3)
	parts, err := client.Partitions("auto")
	require.NoError(t, err)
	assert.Len(t, parts, 2)

	// In memory, a restart starts empty but the seed topics are created again.
	b.Kill()
	b.Restart()
	client2, _ := newClient(t, b.Addr())
	topics, err := client2.Topics()
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"seeded", "plain"}, topics)
	assert.Contains(t, b.Process().RunLog(), "devbroker listening on "+b.Addr())
}

func TestKafkaReadyRefused(t *testing.T) {
	t.Parallel()
	assert.Error(t, KafkaReady(context.Background(), FreeAddr(t)))
}

// TestBrokerKillDuringProduce kills the broker while an idempotent producer is
// producing: every record it acknowledged must be there after the restart.
func TestBrokerKillDuringProduce(t *testing.T) {
	SkipShort(t, startsProcesses)
	t.Parallel()
	b := StartBroker(t, BrokerTopics("stream:2"))
	client, _ := newClient(t, b.Addr())
	producer, err := sarama.NewSyncProducerFromClient(client)
	require.NoError(t, err)
	defer producer.Close()

	var mu sync.Mutex
	var acked []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			v := fmt.Sprintf("r%05d", i)
			if _, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: "stream", Key: sarama.StringEncoder(fmt.Sprint(i % 5)), Value: sarama.StringEncoder(v)}); err == nil {
				mu.Lock()
				acked = append(acked, v)
				mu.Unlock()
			}
		}
	}()
	waitAcked := func(n int) {
		ctx := ctxTimeout(t, 30*time.Second)
		for {
			mu.Lock()
			got := len(acked)
			mu.Unlock()
			if got >= n {
				return
			}
			select {
			case <-ctx.Done():
				t.Fatalf("only %d records acknowledged, want %d", got, n)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}
	waitAcked(200)
	b.Kill()
	b.Restart()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	waitAcked(n + 100) // the producer carries on after the restart
	close(stop)
	<-done

	client2, _ := newClient(t, b.Addr())
	stored := readAll(t, client2, "stream")
	count := map[string]int{}
	for _, v := range stored {
		count[v]++
	}
	dups := 0
	for _, v := range acked {
		assert.Positive(t, count[v], "acknowledged record %s lost", v)
		if count[v] > 1 {
			dups++
		}
	}
	t.Logf("%d records acknowledged, %d stored, %d duplicated", len(acked), len(stored), dups)
}

// TestBrokerStopRestartKillRestart produces with one idempotent producer across a
// graceful restart and then a kill -9: the state saved by the graceful stop must not
// confuse the broker after the crash.
func TestBrokerStopRestartKillRestart(t *testing.T) {
	SkipShort(t, startsProcesses)
	t.Parallel()
	b := StartBroker(t, BrokerTopics("s:1"))
	client, _ := newClient(t, b.Addr())
	producer, err := sarama.NewSyncProducerFromClient(client)
	require.NoError(t, err)
	defer producer.Close()
	produce(t, producer, "s", 0, 10)
	b.Stop()
	b.Restart()
	produce(t, producer, "s", 10, 20)
	b.Kill()
	b.Restart()
	produce(t, producer, "s", 20, 30)
	client2, _ := newClient(t, b.Addr())
	assert.Equal(t, values(0, 30), readAll(t, client2, "s"))
}

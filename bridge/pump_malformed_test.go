package bridge

import (
	"context"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A malformed message that arrives alone (nothing batched) is marked after the linger,
// so the partition's committed offset reaches its end.
func TestPumpLoneMalformedMessageIsMarked(t *testing.T) {
	r := newPumpRig(t, func(c *Config) { c.BatchEntries = 100 })
	msgs := make(chan *sarama.ConsumerMessage, 10)
	msgs <- message(t, 0, "k")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.run(context.Background(), ctx, msgs) }()
	require.Eventually(t, func() bool { return r.lastMarked() == 0 }, 5*time.Second, time.Millisecond)
	msgs <- &sarama.ConsumerMessage{Topic: "backbeat-replication", Partition: 3, Offset: 1, Value: []byte("{not json")}
	require.Eventually(t, func() bool { return r.lastMarked() == 1 }, 5*time.Second, time.Millisecond,
		"the lone malformed message is marked without waiting for another message")
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []int64{0}, r.sink.offsets(), "only the journal record was sent")
}

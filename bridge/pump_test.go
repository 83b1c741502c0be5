package bridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
)

// fakeSink records what the pump sends; failures and backlog are scripted.
type fakeSink struct {
	mu       sync.Mutex
	sent     [][]contract.Entry
	failNext int   // Send fails this many times first
	backlog  []int // successive Backlog answers (the last one repeats)
	queries  int
	attempts int
}

func (f *fakeSink) Send(ctx context.Context, topic string, partition int32, entries []contract.Entry) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts++
	if f.failNext > 0 {
		f.failNext--
		return errors.New("temporal unavailable")
	}
	f.sent = append(f.sent, append([]contract.Entry(nil), entries...))
	return nil
}

func (f *fakeSink) Backlog(ctx context.Context, topic string, partition int32) (int, int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queries++
	if len(f.backlog) == 0 {
		return 0, 0, nil
	}
	n := f.backlog[0]
	if len(f.backlog) > 1 {
		f.backlog = f.backlog[1:]
	}
	return n, n * 100, nil
}

func (f *fakeSink) offsets() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []int64
	for _, b := range f.sent {
		for _, e := range b {
			out = append(out, e.Offset)
		}
	}
	return out
}

// batches returns the offsets of each signal sent, in order.
func (f *fakeSink) batches() [][]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out [][]int64
	for _, b := range f.sent {
		var offs []int64
		for _, e := range b {
			offs = append(offs, e.Offset)
		}
		out = append(out, offs)
	}
	return out
}

func message(t *testing.T, off int64, key string) *sarama.ConsumerMessage {
	t.Helper()
	rec := bbproto.Record{Seq: uint64(off + 1), Op: "put", Bucket: "b", Key: key, VersionID: fmt.Sprintf("v%d", off)}
	data, err := json.Marshal(rec)
	require.NoError(t, err)
	return &sarama.ConsumerMessage{Topic: "backbeat-replication", Partition: 3, Offset: off, Key: []byte("b/" + key), Value: data}
}

type pumpRig struct {
	p      *pump
	sink   *fakeSink
	marked []int64
	pauses []bool
	mu     sync.Mutex
}

func newPumpRig(t *testing.T, tweak func(*Config)) *pumpRig {
	cfg := Config{BatchEntries: 3, BatchLinger: 20 * time.Millisecond, HighWater: 8, BacklogCheck: 10 * time.Millisecond,
		MinBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond, Logger: testlog.Discard()}
	if tweak != nil {
		tweak(&cfg)
	}
	cfg, err := cfg.withDefaults()
	require.NoError(t, err)
	r := &pumpRig{sink: &fakeSink{}}
	r.p = &pump{cfg: cfg, sink: r.sink, log: cfg.Logger, m: newMetrics(), topic: "backbeat-replication", partition: 3,
		pause: func(on bool) { r.mu.Lock(); r.pauses = append(r.pauses, on); r.mu.Unlock() },
		mark:  func(m *sarama.ConsumerMessage) { r.mu.Lock(); r.marked = append(r.marked, m.Offset); r.mu.Unlock() },
	}
	return r
}

func (r *pumpRig) lastMarked() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.marked) == 0 {
		return -1
	}
	return r.marked[len(r.marked)-1]
}

func TestPumpBatchesInOrderAndMarksAfterSend(t *testing.T) {
	r := newPumpRig(t, nil)
	msgs := make(chan *sarama.ConsumerMessage, 10)
	for i := int64(0); i < 7; i++ {
		msgs <- message(t, i, fmt.Sprintf("k%d", i%2))
	}
	close(msgs)
	require.NoError(t, r.p.run(context.Background(), context.Background(), msgs))
	assert.Equal(t, []int64{0, 1, 2, 3, 4, 5, 6}, r.sink.offsets())
	require.Len(t, r.sink.sent, 3, "batches of at most 3")
	assert.Len(t, r.sink.sent[0], 3)
	assert.Equal(t, []int64{2, 5, 6}, r.marked, "each batch's newest offset is marked after it was sent")
	assert.Equal(t, "b", r.sink.sent[0][0].Record.Bucket)
	assert.Equal(t, int32(3), r.sink.sent[0][0].Partition)
}

func TestPumpLingerFlushesPartialBatch(t *testing.T) {
	r := newPumpRig(t, func(c *Config) { c.BatchEntries = 100 })
	msgs := make(chan *sarama.ConsumerMessage, 10)
	msgs <- message(t, 10, "a")
	msgs <- message(t, 11, "a")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.run(context.Background(), ctx, msgs) }()
	require.Eventually(t, func() bool { return r.lastMarked() == 11 }, 5*time.Second, 5*time.Millisecond,
		"a partial batch is sent after the linger without more messages")
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, []int64{10, 11}, r.sink.offsets())
}

func TestPumpRetriesUntilAcceptedAndNeverMarksUnsent(t *testing.T) {
	r := newPumpRig(t, nil)
	r.sink.failNext = 3
	msgs := make(chan *sarama.ConsumerMessage, 10)
	for i := int64(0); i < 3; i++ {
		msgs <- message(t, i, "k")
	}
	close(msgs)
	require.NoError(t, r.p.run(context.Background(), context.Background(), msgs))
	assert.Equal(t, []int64{0, 1, 2}, r.sink.offsets(), "sent once, after the failures")
	assert.Equal(t, []int64{2}, r.marked)

	// A sink that never accepts: the claim ends, the drain gives up, nothing is marked.
	r2 := newPumpRig(t, func(c *Config) { c.DrainTimeout = 50 * time.Millisecond })
	r2.sink.failNext = 1 << 30
	msgs2 := make(chan *sarama.ConsumerMessage, 10)
	msgs2 <- message(t, 0, "k")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r2.p.run(context.Background(), ctx, msgs2) }()
	require.Eventually(t, func() bool { r2.sink.mu.Lock(); defer r2.sink.mu.Unlock(); return r2.sink.attempts >= 2 },
		5*time.Second, time.Millisecond)
	cancel() // the claim ends; the drain tries for DrainTimeout, then gives up
	assert.Error(t, <-done, "entries not accepted are reported")
	assert.Empty(t, r2.marked, "an offset whose entry Temporal did not accept is never marked")
}

func TestPumpMalformedMessageIsMarkedNotSent(t *testing.T) {
	r := newPumpRig(t, nil)
	msgs := make(chan *sarama.ConsumerMessage, 10)
	msgs <- message(t, 0, "k")
	msgs <- &sarama.ConsumerMessage{Topic: "backbeat-replication", Partition: 3, Offset: 1, Value: []byte("{not json")}
	msgs <- message(t, 2, "k")
	close(msgs)
	require.NoError(t, r.p.run(context.Background(), context.Background(), msgs))
	assert.Equal(t, []int64{0, 2}, r.sink.offsets())
	assert.Equal(t, int64(2), r.lastMarked())
}

func TestPumpBackpressurePausesAndResumes(t *testing.T) {
	r := newPumpRig(t, func(c *Config) { c.BatchEntries = 2; c.HighWater = 4; c.LowWater = 1 })
	// Backlog answers: over the high-water mark twice, then above low water, then drained.
	r.sink.backlog = []int{5, 6, 3, 1}
	msgs := make(chan *sarama.ConsumerMessage, 10)
	for i := int64(0); i < 4; i++ {
		msgs <- message(t, i, "k")
	}
	close(msgs)
	require.NoError(t, r.p.run(context.Background(), context.Background(), msgs))
	assert.Equal(t, []bool{true, false}, r.pauses, "paused once, resumed once")
	assert.GreaterOrEqual(t, r.sink.queries, 4, "polled until the backlog reached the low-water mark")
	assert.Equal(t, []int64{0, 1, 2, 3}, r.sink.offsets())
}

func TestConfigValidation(t *testing.T) {
	_, err := Config{BatchBytes: 10}.withDefaults()
	assert.ErrorContains(t, err, "batch bytes")
	_, err = Config{HighWater: 10, LowWater: 10}.withDefaults()
	assert.ErrorContains(t, err, "low-water")
	c, err := Config{}.withDefaults()
	require.NoError(t, err)
	assert.Equal(t, "backbeat-replication-group", c.Group)
	assert.Equal(t, contract.DefaultHighWater/2, c.LowWater)
}

// The journal position of ingest's headers travels with each entry; a message without
// them (or with a seq that is not a number) carries none, and is deduped by offset.
func TestPumpCarriesJournalPosition(t *testing.T) {
	r := newPumpRig(t, nil)
	msgs := make(chan *sarama.ConsumerMessage, 10)
	withHeaders := func(off int64, id, seq string) *sarama.ConsumerMessage {
		m := message(t, off, "k")
		m.Headers = []*sarama.RecordHeader{{Key: []byte(contract.HeaderJournalID), Value: []byte(id)},
			{Key: []byte(contract.HeaderSeq), Value: []byte(seq)}}
		return m
	}
	msgs <- withHeaders(0, "j1", "41")
	msgs <- message(t, 1, "k")
	msgs <- withHeaders(2, "j1", "x42")
	close(msgs)
	require.NoError(t, r.p.run(context.Background(), context.Background(), msgs))
	require.Len(t, r.sink.sent, 1)
	got := r.sink.sent[0]
	require.Len(t, got, 3)
	assert.Equal(t, "j1", got[0].JournalID)
	assert.Equal(t, uint64(41), got[0].Seq)
	for _, e := range got[1:] {
		assert.Empty(t, e.JournalID, "offset %d", e.Offset)
		assert.Zero(t, e.Seq, "offset %d", e.Offset)
	}
}

// TestPumpPacesSignals: an entry after a quiet spell is sent at once (no linger), and
// one that arrives right after a signal waits for the partition's next slot
// (BatchLinger after it) with whatever else arrives.
func TestPumpPacesSignals(t *testing.T) {
	r := newPumpRig(t, func(c *Config) { c.BatchEntries = 100; c.BatchLinger = time.Hour })
	msgs := make(chan *sarama.ConsumerMessage, 10)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.p.run(context.Background(), ctx, msgs) }()

	msgs <- message(t, 0, "a")
	require.Eventually(t, func() bool { return r.lastMarked() == 0 }, 5*time.Second, time.Millisecond,
		"the first entry goes at once, though BatchLinger is an hour")
	msgs <- message(t, 1, "b")
	msgs <- message(t, 2, "c")
	assert.Never(t, func() bool { return r.lastMarked() > 0 }, 200*time.Millisecond, 5*time.Millisecond,
		"entries right after a signal wait for the next slot")
	cancel() // the claim ends: what is held is sent in one signal
	require.NoError(t, <-done)
	assert.Equal(t, [][]int64{{0}, {1, 2}}, r.sink.batches())
}

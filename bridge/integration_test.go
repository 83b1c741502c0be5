package bridge_test

// Integration tests of the bridge against a real Kafka-protocol broker (devstack's
// kfake devbroker) and the real Temporal dev server, with a real worker hosting the real
// partition workflow and fake activities that record what they are asked to replicate.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	tworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bridge"
	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/internal/metricsserver"
	"github.com/backbeat-temporal/backbeat/workflows"
)

const (
	topic  = "backbeat-replication"
	group  = "backbeat-replication-group"
	nParts = 4
)

// ---- fake activities ----

// fakeActivities stand for the S3 activities: they record, in call order, the offsets
// each partition's workflow asks to replicate and the statuses it writes.
type fakeActivities struct {
	mu         sync.Mutex
	replicated map[int32][]int64   // partition → offsets, one per ActivityReplicate call
	statuses   map[string][]string // versionId → statuses written
	delay      time.Duration       // each replication takes that long
	gate       chan struct{}       // when not nil, replications wait until it is closed
}

// startsProcesses is why the tests that start real processes skip under -short.
const startsProcesses = "integration: starts a Kafka-protocol broker and the Temporal dev server"

func newFakeActivities() *fakeActivities {
	return &fakeActivities{replicated: map[int32][]int64{}, statuses: map[string][]string{}}
}

func (f *fakeActivities) Replicate(ctx context.Context, in contract.ReplicateInput) (contract.ReplicateResult, error) {
	f.mu.Lock()
	f.replicated[in.Entry.Partition] = append(f.replicated[in.Entry.Partition], in.Entry.Offset)
	gate, delay := f.gate, f.delay
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return contract.ReplicateResult{}, ctx.Err()
		}
	}
	if delay > 0 {
		t := time.NewTimer(delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return contract.ReplicateResult{}, ctx.Err()
		}
	}
	return contract.ReplicateResult{Bytes: in.Entry.Record.Size}, nil
}

func (f *fakeActivities) SetStatus(ctx context.Context, in contract.SetStatusInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.statuses[in.VersionID] = append(f.statuses[in.VersionID], string(in.Status))
	return nil
}

// ReplicateBatch replicates each entry as Replicate does and writes COMPLETED for it, as
// the real batch activity's bulk status write does.
func (f *fakeActivities) ReplicateBatch(ctx context.Context, in contract.ReplicateBatchInput) (contract.ReplicateBatchResult, error) {
	var res contract.ReplicateBatchResult
	for _, e := range in.Entries {
		r, err := f.Replicate(ctx, contract.ReplicateInput{Entry: e})
		if err != nil {
			return contract.ReplicateBatchResult{}, err
		}
		f.mu.Lock()
		f.statuses[e.Record.VersionID] = append(f.statuses[e.Record.VersionID], string(bbproto.StatusCompleted))
		f.mu.Unlock()
		res.Outcomes = append(res.Outcomes, contract.EntryOutcome{Outcome: contract.OutcomeDone, Bytes: r.Bytes,
			Status: bbproto.StatusCompleted, StatusWritten: true})
	}
	return res, nil
}

// block makes the next replications wait until the returned function is called.
func (f *fakeActivities) block() (unblock func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	gate := make(chan struct{})
	f.gate = gate
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.gate = nil
			close(gate)
		})
	}
}

// done returns the number of versions whose status was written.
func (f *fakeActivities) done() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.statuses)
}

func (f *fakeActivities) calls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, offs := range f.replicated {
		n += len(offs)
	}
	return n
}

// ---- the stack: broker, Temporal, worker ----

type rig struct {
	t        *testing.T
	kafka    *devstack.Broker
	temporal *devstack.Temporal
	acts     *fakeActivities
	tc       client.Client
	log      *testlog.Buffer // in-process bridges log here
	produced []produced
	// journalID, when set, makes produce add ingest's journal position headers
	// (journal ID and the record's seq).
	journalID string
}

// newRig starts a broker with the topic (4 partitions), and unless noTemporal, the
// Temporal dev server with the workflow search attributes and a worker.
func newRig(t *testing.T, noTemporal bool) *rig {
	t.Helper()
	devstack.SkipShort(t, startsProcesses)
	r := &rig{t: t, acts: newFakeActivities(), log: &testlog.Buffer{}}
	r.kafka = devstack.StartBroker(t, devstack.BrokerTopics(fmt.Sprintf("%s:%d", topic, nParts)))
	if !noTemporal {
		r.startTemporal()
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("in-process bridge log (tail):\n%s", tail(r.log.String(), 80))
		}
	})
	return r
}

// startTemporal starts the Temporal dev server (on port when given) and a worker.
func (r *rig) startTemporal(opts ...devstack.TemporalOption) {
	r.t.Helper()
	opts = append([]devstack.TemporalOption{devstack.TemporalHeadless(),
		devstack.TemporalSearchAttributes(contract.SearchAttributes())}, opts...)
	r.temporal = devstack.StartTemporal(r.t, opts...)
	c, err := client.Dial(client.Options{HostPort: r.temporal.Addr(), Logger: tlog.NewStructuredLogger(testlog.Discard())})
	require.NoError(r.t, err)
	r.t.Cleanup(c.Close)
	r.tc = c
	w := tworker.New(c, contract.TaskQueue, tworker.Options{})
	w.RegisterWorkflowWithOptions(workflows.PartitionWorkflow, workflow.RegisterOptions{Name: contract.WorkflowName})
	w.RegisterActivityWithOptions(r.acts.Replicate, activity.RegisterOptions{Name: contract.ActivityReplicate})
	w.RegisterActivityWithOptions(r.acts.SetStatus, activity.RegisterOptions{Name: contract.ActivitySetStatus})
	w.RegisterActivityWithOptions(r.acts.ReplicateBatch, activity.RegisterOptions{Name: contract.ActivityReplicateBatch})
	require.NoError(r.t, w.Start())
	r.t.Cleanup(w.Stop)
}

// bridgeConfig is a bridge configured for this rig, with short backoffs.
func (r *rig) bridgeConfig() bridge.Config {
	cfg := bridge.Config{
		Brokers:       []string{r.kafka.Addr()},
		MetricsListen: devstack.FreeAddr(r.t),
		MinBackoff:    100 * time.Millisecond,
		MaxBackoff:    time.Second,
		Logger:        slog.New(slog.NewTextHandler(r.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if r.temporal != nil {
		cfg.TemporalAddress = r.temporal.Addr()
	}
	return cfg
}

// runBridge runs bridge.Run in-process; stop ends it and checks it returned nil. It is
// stopped when the test ends.
func (r *rig) runBridge(cfg bridge.Config) (stop func()) {
	r.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- bridge.Run(ctx, cfg) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				assert.NoError(r.t, err, "a clean stop returns nil")
			case <-time.After(30 * time.Second):
				r.t.Errorf("bridge.Run did not return within 30s of its context's end")
			}
		})
	}
	r.t.Cleanup(stop)
	return stop
}

// startBridgeProcess runs bin/bridge; it is ready once /healthz says it consumes.
func (r *rig) startBridgeProcess(name, metrics string, args ...string) *devstack.Process {
	r.t.Helper()
	args = append([]string{"--kafka-brokers", r.kafka.Addr(), "--temporal-address", r.temporal.Addr(),
		"--metrics-listen", metrics, "--log-level", "debug"}, args...)
	return devstack.StartProcess(r.t, devstack.Command{Name: name, Path: devstack.Build(r.t, "cmd/bridge"), Args: args,
		Ready: func(ctx context.Context) error { return healthy(ctx, metrics) }})
}

// ---- Kafka ----

// produced is one message the test wrote.
type produced struct {
	partition int32
	offset    int64
	versionID string
	key       string // the Kafka key, bucket/key
}

func saramaConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.Version = sarama.V2_8_0_0
	c.ClientID = "bridge-integration-test"
	c.Producer.Return.Successes = true
	c.Producer.RequiredAcks = sarama.WaitForAll
	c.Net.DialTimeout = 2 * time.Second
	return c
}

// record is a PENDING journal record of a put of bucket/key.
func record(seq int, key, versionID string) bbproto.Record {
	return bbproto.Record{Seq: uint64(seq), Time: time.Now().UTC(), Op: bbproto.OpPut, Bucket: "bucket", Key: key,
		VersionID: versionID, Size: 4096, ETag: "etag", LastModified: time.Now().UTC(),
		Replication: &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::target",
			Content: []bbproto.Content{bbproto.ContentData, bbproto.ContentMetadata}}}
}

// produce writes n journal records with keys spread over keys distinct object keys
// (Kafka key "bucket/key", the default hash partitioner: as ingest does) and remembers
// where each landed.
func (r *rig) produce(n, keys int) []produced {
	r.t.Helper()
	p, err := sarama.NewSyncProducer([]string{r.kafka.Addr()}, saramaConfig())
	require.NoError(r.t, err)
	defer p.Close()
	var out []produced
	base := len(r.produced)
	for from := 0; from < n; from += 50 {
		var msgs []*sarama.ProducerMessage
		for i := from; i < min(from+50, n); i++ {
			seq := base + i
			key := fmt.Sprintf("key-%03d", i%keys)
			data, err := json.Marshal(record(seq, key, fmt.Sprintf("v%05d", seq)))
			require.NoError(r.t, err)
			msgs = append(msgs, &sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder("bucket/" + key),
				Value: sarama.ByteEncoder(data), Metadata: fmt.Sprintf("v%05d", seq), Headers: r.journalHeaders(seq)})
		}
		require.NoError(r.t, p.SendMessages(msgs))
		for _, m := range msgs {
			k, _ := m.Key.Encode()
			out = append(out, produced{partition: m.Partition, offset: m.Offset, versionID: m.Metadata.(string), key: string(k)})
		}
	}
	r.produced = append(r.produced, out...)
	return out
}

// journalHeaders are the journal position headers of the record at seq (none unless
// r.journalID is set).
func (r *rig) journalHeaders(seq int) []sarama.RecordHeader {
	if r.journalID == "" {
		return nil
	}
	return []sarama.RecordHeader{{Key: []byte(contract.HeaderJournalID), Value: []byte(r.journalID)},
		{Key: []byte(contract.HeaderSeq), Value: []byte(strconv.Itoa(seq))}}
}

// reproduce writes produced messages again, same records and journal positions (as
// ingest would after losing its offset), and returns where they landed; they are not
// added to r.produced.
func (r *rig) reproduce(ps []produced) []produced {
	r.t.Helper()
	p, err := sarama.NewSyncProducer([]string{r.kafka.Addr()}, saramaConfig())
	require.NoError(r.t, err)
	defer p.Close()
	var out []produced
	for _, old := range ps {
		var seq int
		_, err := fmt.Sscanf(old.versionID, "v%05d", &seq)
		require.NoError(r.t, err)
		data, err := json.Marshal(record(seq, strings.TrimPrefix(old.key, "bucket/"), old.versionID))
		require.NoError(r.t, err)
		part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(old.key),
			Value: sarama.ByteEncoder(data), Headers: r.journalHeaders(seq)})
		require.NoError(r.t, err)
		out = append(out, produced{partition: part, offset: off, versionID: old.versionID, key: old.key})
	}
	return out
}

// recreateTopic deletes the topic and the bridge's consumer group, then creates the
// topic again: Kafka offsets restart from 0, as after `docker compose down`.
func (r *rig) recreateTopic() {
	r.t.Helper()
	admin, err := sarama.NewClusterAdmin([]string{r.kafka.Addr()}, saramaConfig())
	require.NoError(r.t, err)
	defer admin.Close()
	require.NoError(r.t, admin.DeleteConsumerGroup(group))
	require.NoError(r.t, admin.DeleteTopic(topic))
	require.Eventually(r.t, func() bool {
		err := admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: nParts, ReplicationFactor: 1}, false)
		return err == nil
	}, 20*time.Second, 100*time.Millisecond, "topic %s created again", topic)
	for p, hwm := range r.highWaterMarks() {
		require.Zero(r.t, hwm, "partition %d of the new topic is empty", p)
	}
}

// produceRaw writes one message as is (e.g. not a journal record) with the given key.
func (r *rig) produceRaw(key string, value []byte) (int32, int64) {
	r.t.Helper()
	p, err := sarama.NewSyncProducer([]string{r.kafka.Addr()}, saramaConfig())
	require.NoError(r.t, err)
	defer p.Close()
	part, off, err := p.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(key), Value: sarama.ByteEncoder(value)})
	require.NoError(r.t, err)
	return part, off
}

// highWaterMarks returns each partition's next offset.
func (r *rig) highWaterMarks() map[int32]int64 {
	r.t.Helper()
	c, err := sarama.NewClient([]string{r.kafka.Addr()}, saramaConfig())
	require.NoError(r.t, err)
	defer c.Close()
	out := map[int32]int64{}
	for p := int32(0); p < nParts; p++ {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		require.NoError(r.t, err)
		out[p] = off
	}
	return out
}

// committed returns the group's committed offset of each partition (-1: none).
func (r *rig) committed() (map[int32]int64, error) {
	admin, err := sarama.NewClusterAdmin([]string{r.kafka.Addr()}, saramaConfig())
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	parts := []int32{0, 1, 2, 3}
	res, err := admin.ListConsumerGroupOffsets(group, map[string][]int32{topic: parts})
	out := map[int32]int64{}
	if errors.Is(err, sarama.ErrGroupIDNotFound) {
		// kfake answers so for a group that never joined (Kafka lists offsets -1).
		for _, p := range parts {
			out[p] = -1
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	for _, p := range parts {
		b := res.GetBlock(topic, p)
		if b == nil {
			return nil, fmt.Errorf("no offset block for partition %d", p)
		}
		out[p] = b.Offset
	}
	return out, nil
}

// waitCommittedAtEnd waits until the group's committed offsets equal the high-water marks.
func (r *rig) waitCommittedAtEnd(timeout time.Duration) {
	r.t.Helper()
	hwm := r.highWaterMarks()
	for p, off := range hwm {
		if off == 0 {
			hwm[p] = -1 // an empty partition has no committed offset
		}
	}
	var last map[int32]int64
	var lastErr error
	ok := assert.Eventually(r.t, func() bool {
		last, lastErr = r.committed()
		return lastErr == nil && mapsEqual(last, hwm)
	}, timeout, 50*time.Millisecond)
	if !ok {
		r.t.Fatalf("committed offsets %v (err %v), want the high-water marks %v", last, lastErr, hwm)
	}
}

// ---- checks ----

// waitProcessed waits until every produced version has its status written.
func (r *rig) waitProcessed(timeout time.Duration) {
	r.t.Helper()
	want := len(r.produced)
	if !assert.Eventually(r.t, func() bool { return r.acts.done() >= want }, timeout, 20*time.Millisecond) {
		r.t.Fatalf("%d of %d versions processed after %s (%d replication calls)", r.acts.done(), want, timeout, r.acts.calls())
	}
	// A batch writes its statuses before its workflow applies the outcomes: wait for
	// each partition's workflow to count what it was sent and hold nothing more.
	perPartition := map[int32]int64{}
	for _, p := range r.produced {
		perPartition[p.partition]++
	}
	assert.Eventually(r.t, func() bool {
		for p, n := range perPartition {
			st, err := r.queryStatus(p)
			if err != nil || st.Processed < n || st.Backlog > 0 {
				return false
			}
		}
		return true
	}, timeout, 50*time.Millisecond, "every partition workflow counts its entries processed")
}

// checkExactlyOnce checks that each partition's workflow replicated every produced
// message once — the versions of one object in Kafka order (different objects of a
// partition may run concurrently) — and wrote one COMPLETED status per version; and
// that the workflows' own counters agree.
func (r *rig) checkExactlyOnce() {
	t := r.t
	t.Helper()
	want := map[int32][]int64{}
	for _, p := range r.produced {
		want[p.partition] = append(want[p.partition], p.offset)
	}
	keyOf := map[[2]int64]string{}
	for _, p := range r.produced {
		keyOf[[2]int64{int64(p.partition), p.offset}] = p.key
	}
	r.acts.mu.Lock()
	for p := range want {
		slices.Sort(want[p])
		got := slices.Clone(r.acts.replicated[p])
		last := map[string]int64{}
		for _, off := range got {
			k := keyOf[[2]int64{int64(p), off}]
			if prev, ok := last[k]; ok {
				assert.Less(t, prev, off, "partition %d: object %s replicated in Kafka order", p, k)
			}
			last[k] = off
		}
		slices.Sort(got)
		assert.Equal(t, want[p], got, "partition %d: every offset replicated exactly once", p)
	}
	assert.Len(t, r.acts.replicated, len(want), "no replication of a partition that received nothing")
	for _, p := range r.produced {
		assert.Equal(t, []string{string(bbproto.StatusCompleted)}, r.acts.statuses[p.versionID], "version %s (partition %d offset %d)", p.versionID, p.partition, p.offset)
	}
	assert.Len(t, r.acts.statuses, len(r.produced), "no status for a version never produced")
	r.acts.mu.Unlock()
	for p, offs := range want {
		st := r.status(p)
		assert.Equal(t, int64(len(offs)), st.Processed, "partition %d processed", p)
		assert.Equal(t, int64(len(offs)), st.Completed, "partition %d completed", p)
		assert.Zero(t, st.Failed+st.Skipped+st.Misrouted, "partition %d: nothing failed, skipped or misrouted (%+v)", p, st)
		assert.Zero(t, st.Backlog, "partition %d backlog", p)
		assert.Equal(t, offs[len(offs)-1], st.LastOffset, "partition %d last offset", p)
		if st.Duplicates > 0 {
			t.Logf("partition %d: the workflow dropped %d redelivered entries", p, st.Duplicates)
		}
	}
}

// status queries a partition workflow.
func (r *rig) status(p int32) contract.Status {
	r.t.Helper()
	st, err := r.queryStatus(p)
	require.NoError(r.t, err)
	return st
}

func (r *rig) queryStatus(p int32) (contract.Status, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var st contract.Status
	v, err := r.tc.QueryWorkflow(ctx, contract.WorkflowID(topic, p), "", contract.QueryStatus)
	if err != nil {
		return st, err
	}
	return st, v.Get(&st)
}

func mapsEqual(a, b map[int32]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// ---- /metrics and /healthz ----

// scrape reads a bridge's /metrics: series ("name" or "name{labels}") → value.
func scrape(addr string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return metricsserver.Scrape(ctx, addr)
}

func mustScrape(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	m, err := scrape(addr)
	require.NoError(t, err)
	return m
}

// sum adds the series of one metric (every label set).
func sum(m map[string]float64, name string) float64 {
	var s float64
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// partitionSeries is the value of a metric labelled by partition (0 when absent).
func partitionSeries(m map[string]float64, name string, p int32) float64 {
	return m[fmt.Sprintf("%s{partition=%q}", name, fmt.Sprint(p))]
}

// healthy returns nil when the bridge's /healthz answers 200.
func healthy(ctx context.Context, addr string) error {
	code, err := healthCode(ctx, addr)
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("healthz: %d", code)
	}
	return nil
}

func healthCode(ctx context.Context, addr string) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// ---- logs ----

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ---- tests ----

// Every message reaches its partition's workflow once, in Kafka order; the offsets are
// committed up to the end (a trailing message that is not a journal record included);
// signals carry several entries.
func TestIntegrationExactlyOnceInOrderAndBatched(t *testing.T) {
	r := newRig(t, false)
	cfg := r.bridgeConfig()
	r.runBridge(cfg)

	const n = 120
	r.produce(n, 40)
	r.waitProcessed(60 * time.Second)
	// A message that is not a journal record, alone and last of its partition: logged,
	// counted, never replicated, and its offset is committed all the same.
	badPart, badOff := r.produceRaw("bucket/not-a-record", []byte("{not json"))
	r.waitCommittedAtEnd(20 * time.Second)
	assert.Equal(t, badOff+1, r.highWaterMarks()[badPart], "the malformed message is its partition's last")
	r.checkExactlyOnce()

	m := mustScrape(t, cfg.MetricsListen)
	signals := sum(m, "backbeat_bridge_signals_total")
	assert.Equal(t, float64(n), sum(m, "backbeat_bridge_entries_signaled_total"), "each entry signaled once")
	assert.Equal(t, float64(n+1), sum(m, "backbeat_bridge_messages_total"), "each message consumed once")
	assert.Equal(t, 1.0, sum(m, "backbeat_bridge_malformed_messages_total"))
	assert.Zero(t, sum(m, "backbeat_bridge_signal_errors_total"))
	assert.Equal(t, float64(nParts), m["backbeat_bridge_claimed_partitions"])
	assert.Less(t, signals, float64(n)/2, "signals carry several entries (batching)")
	// The workflows saw exactly the signals the bridge counted.
	var seen int
	for p := int32(0); p < nParts; p++ {
		st := r.status(p)
		seen += st.SignalsThisRun
		assert.Equal(t, 1, st.Run, "no ContinueAsNew for so few entries")
		assert.Equal(t, float64(r.highWaterMarks()[p]-1), partitionSeries(m, "backbeat_bridge_marked_offset", p),
			"partition %d: the newest offset is marked", p)
	}
	assert.Equal(t, signals, float64(seen), "the workflows received the bridge's signals")
	t.Logf("%d entries in %v signals", n, signals)
}

// A second bridge joins mid-stream: the partitions split and nothing is processed twice
// or lost; then the first is killed (-9) and the second takes every partition, still
// exactly once.
func TestIntegrationRebalanceAndKill(t *testing.T) {
	r := newRig(t, false)
	// A small high-water mark keeps entries in Kafka, so that partitions change hands
	// with messages still to consume.
	flags := []string{"--high-water", "20", "--batch-entries", "10", "--batch-linger", "20ms"}
	m1, m2 := devstack.FreeAddr(t), devstack.FreeAddr(t)
	b1 := r.startBridgeProcess("bridge-1", m1, flags...)
	claimed := func(addr string) float64 {
		m, err := scrape(addr)
		if err != nil {
			return -1
		}
		return m["backbeat_bridge_claimed_partitions"]
	}
	require.Eventually(t, func() bool { return claimed(m1) == nParts }, 30*time.Second, 20*time.Millisecond)

	r.produce(80, 40)
	require.Eventually(t, func() bool { return r.acts.done() >= 16 }, 60*time.Second, 10*time.Millisecond)
	require.Less(t, r.acts.done(), 80, "the second bridge joins mid-stream")

	r.startBridgeProcess("bridge-2", m2, flags...)
	require.Eventually(t, func() bool {
		c1, c2 := claimed(m1), claimed(m2)
		return c1 > 0 && c2 > 0 && c1+c2 == nParts
	}, 60*time.Second, 20*time.Millisecond, "the partitions split between the two bridges")
	t.Logf("after the join: bridge-1 %v partitions, bridge-2 %v; %d of 80 processed", claimed(m1), claimed(m2), r.acts.done())

	r.produce(40, 40)
	require.Eventually(t, func() bool { return r.acts.done() >= 100 }, 60*time.Second, 10*time.Millisecond)
	require.NoError(t, b1.Kill(), "kill -9 of bridge-1")
	r.produce(40, 40)
	require.Eventually(t, func() bool { return claimed(m2) == nParts }, 60*time.Second, 50*time.Millisecond,
		"bridge-2 takes every partition once bridge-1's session expired")

	r.waitProcessed(90 * time.Second)
	r.checkExactlyOnce()
	r.waitCommittedAtEnd(20 * time.Second)
}

// With a tiny high-water mark and blocked activities, the bridge pauses the partition
// and the workflow's backlog stays within the high-water mark plus one batch; once the
// activities run again, it resumes and everything is processed.
func TestIntegrationBackpressure(t *testing.T) {
	r := newRig(t, false)
	const highWater, batch, n = 5, 3, 30
	cfg := r.bridgeConfig()
	cfg.HighWater, cfg.LowWater, cfg.BatchEntries = highWater, 2, batch
	cfg.BatchLinger, cfg.BacklogCheck = 20*time.Millisecond, 50*time.Millisecond
	unblock := r.acts.block()
	defer unblock()
	r.runBridge(cfg)

	out := r.produce(n, 1) // one key: one partition
	part := out[0].partition

	// Watch the workflow's backlog for the whole test.
	var maxBacklog int
	var mu sync.Mutex
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			if st, err := r.queryStatus(part); err == nil {
				mu.Lock()
				maxBacklog = max(maxBacklog, st.Backlog)
				mu.Unlock()
			}
			select {
			case <-stopWatch:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()

	require.Eventually(t, func() bool {
		m, err := scrape(cfg.MetricsListen)
		return err == nil && partitionSeries(m, "backbeat_bridge_partition_paused", part) == 1
	}, 30*time.Second, 10*time.Millisecond, "the partition is paused")
	m := mustScrape(t, cfg.MetricsListen)
	consumed := partitionSeries(m, "backbeat_bridge_messages_total", part)
	assert.LessOrEqual(t, consumed, float64(highWater+batch), "a paused partition is not consumed further")
	st := r.status(part)
	assert.LessOrEqual(t, st.Backlog, highWater+batch)
	assert.GreaterOrEqual(t, st.Backlog, highWater, "paused at the high-water mark")
	assert.Equal(t, 1, r.acts.calls(), "the blocked activity holds the partition")
	committed, err := r.committed()
	require.NoError(t, err)
	assert.Less(t, committed[part], int64(n), "the rest waits in Kafka")

	unblock()
	r.waitProcessed(60 * time.Second)
	close(stopWatch)
	<-watched
	r.checkExactlyOnce()
	r.waitCommittedAtEnd(20 * time.Second)
	mu.Lock()
	assert.LessOrEqual(t, maxBacklog, highWater+batch, "the backlog never exceeded the high-water mark plus one batch")
	mu.Unlock()
	require.Eventually(t, func() bool {
		m, err := scrape(cfg.MetricsListen)
		return err == nil && partitionSeries(m, "backbeat_bridge_partition_paused", part) == 0
	}, 10*time.Second, 10*time.Millisecond, "resumed")
	assert.Contains(t, r.log.String(), "partition paused: workflow backlog at the high-water mark")
	assert.Contains(t, r.log.String(), "partition resumed")
}

// Temporal down when the bridge starts: the bridge logs, retries, is not healthy, and
// proceeds once Temporal is up.
func TestIntegrationTemporalDownAtStart(t *testing.T) {
	r := newRig(t, true)
	r.produce(20, 20)
	port := devstack.FreePort(t)
	cfg := r.bridgeConfig()
	cfg.TemporalAddress = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	r.runBridge(cfg)

	require.Eventually(t, func() bool { return strings.Count(r.log.String(), "cannot reach Temporal") >= 2 },
		60*time.Second, 20*time.Millisecond, "the bridge logs that Temporal is unreachable and retries")
	code, err := healthCode(context.Background(), cfg.MetricsListen)
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, code, "not healthy while Temporal is down")
	c, err := r.committed()
	require.NoError(t, err)
	for p, off := range c {
		assert.Equal(t, int64(-1), off, "partition %d: nothing committed before Temporal took the entries", p)
	}

	r.startTemporal(devstack.TemporalPort(port))
	r.waitProcessed(60 * time.Second)
	r.checkExactlyOnce()
	r.waitCommittedAtEnd(20 * time.Second)
	require.NoError(t, healthy(context.Background(), cfg.MetricsListen))
}

// The broker is killed (-9) mid-stream and restarted: nothing is lost or processed twice.
func TestIntegrationBrokerKilledMidStream(t *testing.T) {
	r := newRig(t, false)
	r.acts.delay = 5 * time.Millisecond
	cfg := r.bridgeConfig()
	cfg.HighWater, cfg.BatchEntries, cfg.BatchLinger = 10, 5, 20*time.Millisecond
	r.runBridge(cfg)

	r.produce(80, 40)
	require.Eventually(t, func() bool { return r.acts.done() >= 20 }, 60*time.Second, 10*time.Millisecond)
	r.kafka.Kill()
	require.Less(t, r.acts.done(), 80, "killed mid-stream")
	require.Eventually(t, func() bool {
		code, err := healthCode(context.Background(), cfg.MetricsListen)
		return err == nil && code == http.StatusServiceUnavailable
	}, 60*time.Second, 20*time.Millisecond, "the bridge notices the broker is gone")
	r.kafka.Restart()
	r.produce(40, 40)

	r.waitProcessed(90 * time.Second)
	r.checkExactlyOnce()
	r.waitCommittedAtEnd(30 * time.Second)
}

// Kafka offsets restart from 0 (the topic and the consumer group are recreated, as
// after `docker compose down`) while the partition workflows keep their state: every
// new version is still replicated once and marked COMPLETED, and records produced
// again with their old journal positions are dropped, not replicated twice.
func TestIntegrationOffsetsRestartFromZero(t *testing.T) {
	r := newRig(t, false)
	r.journalID = "journal-1"
	stop := r.runBridge(r.bridgeConfig())
	first := r.produce(40, 10)
	r.waitProcessed(60 * time.Second)
	r.waitCommittedAtEnd(20 * time.Second)
	stop()

	r.recreateTopic()
	replayed := r.reproduce(first[:5])
	r.produce(40, 10)
	for _, p := range replayed {
		assert.Less(t, p.offset, int64(5), "the new topic's offsets start from 0")
	}
	r.runBridge(r.bridgeConfig())
	r.waitProcessed(60 * time.Second)
	require.Eventually(t, func() bool {
		var dups int64
		for p := int32(0); p < nParts; p++ {
			st, err := r.queryStatus(p)
			if err != nil {
				return false
			}
			dups += st.Duplicates
		}
		return dups == int64(len(replayed))
	}, 30*time.Second, 50*time.Millisecond, "the replayed records are dropped as duplicates")

	assert.Equal(t, len(r.produced), r.acts.calls(), "each version replicated once, none twice")
	r.acts.mu.Lock()
	for _, p := range r.produced {
		assert.Equal(t, []string{string(bbproto.StatusCompleted)}, r.acts.statuses[p.versionID], "version %s", p.versionID)
	}
	r.acts.mu.Unlock()
	var completed int64
	for p := int32(0); p < nParts; p++ {
		st := r.status(p)
		completed += st.Completed
		assert.Zero(t, st.Backlog, "partition %d backlog", p)
	}
	assert.Equal(t, int64(len(r.produced)), completed)
}

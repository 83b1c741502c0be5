package ingest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/IBM/sarama"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// Buckets of every stack: src is versioned with an Enabled replication rule, plain is
// versioned without one.
const (
	srcBucket   = "src"
	plainBucket = "plain"
	topic       = "backbeat-replication"
	chroot      = "/backbeat"
	// brokerAutoPartitions is the partition count the test broker gives auto-created
	// topics: different from ingest's default (8) and from any count a test asks for,
	// so that a topic made by auto-creation instead of by ingest shows.
	brokerAutoPartitions = 3
	// sessionTimeout is ingest's ZooKeeper session timeout in tests: ZooKeeper's
	// smallest (2 ticks of 2 s), so that a dead leader's lock goes quickly.
	sessionTimeout = 4 * time.Second
)

// stack is one test's real processes: ZooKeeper, the Kafka-protocol broker, s3server
// with the two buckets, and the ingest binary.
type stack struct {
	t     testing.TB
	zk    *devstack.ZooKeeper
	kafka *devstack.Broker
	s3    *s3test.Process
	s3c   *s3.Client
	bin   string
	// secretFile holds the replication identity's secret key (--secret-key-file).
	secretFile string
}

// newStack starts ZooKeeper, the broker and s3server concurrently-safe from the test's
// goroutine and creates the buckets. s3args are extra s3server flags.
// startsProcesses is why the tests that start real processes skip under -short.
const startsProcesses = "starts real processes (ZooKeeper, Kafka broker, s3server, ingest)"

func newStack(t testing.TB, s3args ...string) *stack {
	t.Helper()
	s := &stack{t: t, bin: devstack.Build(t, "cmd/ingest"), secretFile: s3test.Replication.SecretFile(t)}
	s.zk = devstack.StartZooKeeper(t)
	s.kafka = devstack.StartBroker(t, devstack.BrokerPartitions(brokerAutoPartitions))
	s.s3 = s3test.Start(t, s3args...)
	s.s3c = s.s3.Client(s3test.User)
	ctx := context.Background()
	for _, b := range []string{srcBucket, plainBucket} {
		s3test.MakeBucket(t, s.s3c, b, s3types.BucketVersioningStatusEnabled)
	}
	_, err := s.s3c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(srcBucket),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::root:role/x"),
			Rules: []s3types.ReplicationRule{{ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::target"),
					StorageClass: "dr"}}}}})
	require.NoError(t, err)
	return s
}

// ingestProc is a running (or stopped) bin/ingest.
type ingestProc struct {
	*devstack.Process
	metrics string // http://addr
}

// ingestArgs are the flags of an ingest process against the stack (every flag given,
// so that BACKBEAT_* variables of the developer's shell do not leak in).
func (s *stack) ingestArgs(metricsAddr string, batch int) []string {
	return []string{
		"--s3-endpoint", s.s3.URL,
		"--access-key", s3test.Replication.AccessKey,
		"--secret-key-file", s.secretFile,
		"--kafka-brokers", s.kafka.Addr(),
		"--zookeeper", s.zk.Addr(),
		"--zookeeper-chroot", chroot,
		"--zookeeper-session-timeout", sessionTimeout.String(),
		"--topic", topic,
		"--batch-size", strconv.Itoa(batch),
		"--poll-wait", "2s",
		"--min-backoff", "100ms",
		"--max-backoff", "1s",
		"--metrics-listen", metricsAddr,
		"--log-level", "info",
	}
}

// startIngest starts bin/ingest with the stack's flags, batch size batch, plus extra
// flags (a later flag wins), and waits until its /healthz answers.
func (s *stack) startIngest(name string, batch int, extra ...string) *ingestProc {
	s.t.Helper()
	addr := devstack.FreeAddr(s.t)
	args := append(s.ingestArgs(addr, batch), extra...)
	return startIngestArgs(s.t, s.bin, name, addr, args)
}

func startIngestArgs(t testing.TB, bin, name, metricsAddr string, args []string) *ingestProc {
	t.Helper()
	url := "http://" + metricsAddr
	p := devstack.StartProcess(t, devstack.Command{
		Name: name,
		Path: bin,
		Args: args,
		Ready: func(ctx context.Context) error {
			_, err := healthz(ctx, url)
			return err
		},
		ReadyTimeout: 30 * time.Second,
	})
	return &ingestProc{Process: p, metrics: url}
}

// health is the body of /healthz.
type health struct {
	Status    int    `json:"-"`
	State     string `json:"state"`
	Healthy   bool   `json:"healthy"`
	LastError string `json:"lastError"`
}

func healthz(ctx context.Context, base string) (*health, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var h health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		return nil, fmt.Errorf("healthz body: %w", err)
	}
	h.Status = resp.StatusCode
	return &h, nil
}

// scrape returns the samples of /metrics by series ("name" or `name{label="v"}`).
func scrape(ctx context.Context, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/metrics answered %s", resp.Status)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out[line[:i]] = v
	}
	return out, sc.Err()
}

func (p *ingestProc) health(t testing.TB) *health {
	t.Helper()
	h, err := healthz(ctxT(t, 5*time.Second), p.metrics)
	require.NoError(t, err)
	return h
}

func (p *ingestProc) scrape(t testing.TB) map[string]float64 {
	t.Helper()
	m, err := scrape(ctxT(t, 5*time.Second), p.metrics)
	require.NoError(t, err)
	return m
}

// waitState waits until /healthz reports state.
func (p *ingestProc) waitState(t testing.TB, state string, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, p.Name()+" becomes "+state, func() error {
		h, err := healthz(ctxT(t, 2*time.Second), p.metrics)
		if err != nil {
			return err
		}
		if h.State != state {
			return fmt.Errorf("state %q (last error %q)", h.State, h.LastError)
		}
		return nil
	})
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls f every 50 ms until it returns nil; it fails the test with f's last
// error when timeout passes first.
func eventually(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s: %v", what, timeout, err)
		}
		time.Sleep(50 * time.Millisecond) // poll interval, not synchronisation
	}
}

// --- the journal, read through journal.Client ---

func (s *stack) journalClient() *journal.Client {
	return journal.New(s3test.BBClientOf(s.s3.URL, s3test.Replication))
}

// readJournal returns every record of the journal, its head and its ID.
func (s *stack) readJournal(t testing.TB) ([]bbproto.Record, uint64, string) {
	t.Helper()
	jc := s.journalClient()
	var all []bbproto.Record
	var after uint64
	for {
		b, err := jc.Read(ctxT(t, 30*time.Second), after, 10000, 0)
		require.NoError(t, err)
		all = append(all, b.Records...)
		if len(b.Records) > 0 {
			after = b.Records[len(b.Records)-1].Seq
		}
		if after >= b.Head || len(b.Records) == 0 {
			return all, b.Head, b.JournalID
		}
	}
}

func pendingOf(recs []bbproto.Record) []bbproto.Record {
	var out []bbproto.Record
	for _, r := range recs {
		if r.Pending() {
			out = append(out, r)
		}
	}
	return out
}

// --- ZooKeeper ---

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// zkGet reads a znode with a short-lived session.
func zkGet(addr, path string) ([]byte, error) {
	conn, events, err := zk.Connect([]string{addr}, 5*time.Second, zk.WithLogger(quietLogger{}))
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	go func() {
		for range events {
		}
	}()
	data, _, err := conn.Get(path)
	return data, err
}

func offsetPath(journalID string) string {
	return chroot + "/queue-populator/logState/" + journalID + "/logOffset"
}

// zkOffset reads the stored offset: the znode holds the last journal seq in Kafka as a
// decimal ASCII number.
func (s *stack) zkOffset(journalID string) (uint64, error) {
	data, err := zkGet(s.zk.Addr(), offsetPath(journalID))
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(string(data), 10, 64)
}

// --- Kafka ---

// kmsg is one message of the topic.
type kmsg struct {
	Partition int32
	Offset    int64
	Key       string
	SeqHeader uint64
	JournalID string
	Rec       bbproto.Record
}

func consumerConfig() *sarama.Config {
	c := sarama.NewConfig()
	c.ClientID = "ingest-test"
	c.Version = sarama.V2_8_0_0
	c.Consumer.MaxWaitTime = 50 * time.Millisecond
	c.Metadata.AllowAutoTopicCreation = false
	c.Metadata.Retry.Max = 1
	c.Metadata.Retry.Backoff = 100 * time.Millisecond
	c.Net.DialTimeout = 2 * time.Second
	return c
}

// readTopic reads every message of the topic up to each partition's high-water mark,
// in partition then offset order. It returns the partition count (0 when the topic
// does not exist).
func readTopic(addr, topic string) ([]kmsg, int, error) {
	client, err := sarama.NewClient([]string{addr}, consumerConfig())
	if err != nil {
		return nil, 0, err
	}
	defer client.Close()
	topics, err := client.Topics()
	if err != nil {
		return nil, 0, err
	}
	found := false
	for _, tp := range topics {
		found = found || tp == topic
	}
	if !found {
		return nil, 0, nil
	}
	parts, err := client.Partitions(topic)
	if err != nil {
		return nil, 0, err
	}
	consumer, err := sarama.NewConsumerFromClient(client)
	if err != nil {
		return nil, 0, err
	}
	defer consumer.Close()
	var out []kmsg
	for _, p := range parts {
		hwm, err := client.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return nil, 0, err
		}
		if hwm == 0 {
			continue
		}
		pc, err := consumer.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return nil, 0, err
		}
		timeout := time.After(20 * time.Second)
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				km := kmsg{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key)}
				for _, h := range m.Headers {
					switch string(h.Key) {
					case contract.HeaderSeq:
						km.SeqHeader, _ = strconv.ParseUint(string(h.Value), 10, 64)
					case contract.HeaderJournalID:
						km.JournalID = string(h.Value)
					}
				}
				if err := json.Unmarshal(m.Value, &km.Rec); err != nil {
					pc.Close()
					return nil, 0, fmt.Errorf("partition %d offset %d: value is not a journal record: %w", m.Partition, m.Offset, err)
				}
				out = append(out, km)
				done = m.Offset >= hwm-1
			case err := <-pc.Errors():
				pc.Close()
				return nil, 0, err
			case <-timeout:
				pc.Close()
				return nil, 0, fmt.Errorf("partition %d: not read up to %d within 20s", p, hwm)
			}
		}
		pc.Close()
	}
	return out, len(parts), nil
}

// missing returns the pending seqs that no message carries.
func missing(pending []bbproto.Record, msgs []kmsg) []uint64 {
	have := map[uint64]bool{}
	for _, m := range msgs {
		have[m.Rec.Seq] = true
	}
	var out []uint64
	for _, r := range pending {
		if !have[r.Seq] {
			out = append(out, r.Seq)
		}
	}
	return out
}

// waitDelivered waits until every pending record is in the topic and returns the
// topic's messages and partition count.
func (s *stack) waitDelivered(t testing.TB, pending []bbproto.Record, timeout time.Duration) ([]kmsg, int) {
	t.Helper()
	var msgs []kmsg
	var parts int
	eventually(t, timeout, "every PENDING record in Kafka", func() error {
		var err error
		msgs, parts, err = readTopic(s.kafka.Addr(), topic)
		if err != nil {
			return err
		}
		if miss := missing(pending, msgs); len(miss) > 0 {
			return fmt.Errorf("%d of %d PENDING records missing, first %d", len(miss), len(pending), miss[0])
		}
		return nil
	})
	return msgs, parts
}

// waitOffset waits until the offset znode holds want.
func (s *stack) waitOffset(t testing.TB, journalID string, want uint64, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("offset %d in ZooKeeper", want), func() error {
		got, err := s.zkOffset(journalID)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("offset is %d", got)
		}
		return nil
	})
}

// checkDelivery checks the messages against the journal's PENDING records:
//   - every message is a PENDING record of the journal, byte for byte as journaled,
//     with key bucket/key and the seq and journal ID headers;
//   - all messages of one key are in one partition;
//   - per key, the sequence of seqs in partition order, with repeats removed keeping
//     each seq's first occurrence, is exactly the key's PENDING seqs in journal order
//     (so nothing is missing and order per key is kept);
//
// and returns the number of duplicates (messages beyond the first of their seq).
func checkDelivery(t testing.TB, journalID string, pending []bbproto.Record, msgs []kmsg) (dups int) {
	t.Helper()
	bySeq := map[uint64]bbproto.Record{}
	want := map[string][]uint64{}
	for _, r := range pending {
		bySeq[r.Seq] = r
		k := r.Bucket + "/" + r.Key
		want[k] = append(want[k], r.Seq)
	}
	partOf := map[string]int32{}
	got := map[string][]uint64{}
	seen := map[uint64]bool{}
	bad := 0
	for _, m := range msgs {
		r, ok := bySeq[m.Rec.Seq]
		if !ok || !assert.Equal(t, r, m.Rec, "message at %d/%d is the journal's PENDING record", m.Partition, m.Offset) ||
			!assert.Equal(t, r.Bucket+"/"+r.Key, m.Key) || !assert.Equal(t, r.Seq, m.SeqHeader) || !assert.Equal(t, journalID, m.JournalID) {
			if !ok {
				t.Errorf("message at %d/%d holds seq %d, not a PENDING record of the journal", m.Partition, m.Offset, m.Rec.Seq)
			}
			if bad++; bad > 5 {
				t.FailNow()
			}
			continue
		}
		if p, ok := partOf[m.Key]; ok && p != m.Partition {
			t.Errorf("key %s is in partitions %d and %d", m.Key, p, m.Partition)
		}
		partOf[m.Key] = m.Partition
		if seen[m.Rec.Seq] {
			dups++
			continue
		}
		seen[m.Rec.Seq] = true
		got[m.Key] = append(got[m.Key], m.Rec.Seq)
	}
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !assert.Equal(t, want[k], got[k], "seqs of %s in Kafka (duplicates removed) = its PENDING seqs in journal order", k) {
			break
		}
	}
	assert.Len(t, got, len(want), "keys in Kafka")
	return dups
}

// --- load ---

// writer puts objects into the stack's s3server: overwrites of a small set of keys in
// the replicated bucket, delete markers, tag changes, and puts in the plain bucket.
type writer struct {
	s3c  *s3.Client
	keys int
	n    atomic.Int64 // operations done
	err  atomic.Value
}

// op performs the i-th operation of the mix.
func (w *writer) op(ctx context.Context, i int) error {
	key := fmt.Sprintf("obj-%03d", i%w.keys)
	var err error
	switch {
	case i%10 == 7:
		_, err = w.s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key)})
	case i%10 == 8:
		_, err = w.s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(plainBucket), Key: aws.String(key), Body: bytes.NewReader([]byte("p"))})
	case i%10 == 9:
		_, err = w.s3c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(srcBucket), Key: aws.String(key),
			Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("n"), Value: aws.String(strconv.Itoa(i))}}}})
		var nf interface{ ErrorCode() string }
		if errors.As(err, &nf) && (nf.ErrorCode() == "NoSuchKey" || nf.ErrorCode() == "MethodNotAllowed") {
			err = nil // the latest version is a delete marker: nothing to tag
		}
	default:
		_, err = w.s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key),
			Body: bytes.NewReader([]byte(fmt.Sprintf("v%d", i))), Metadata: map[string]string{"i": strconv.Itoa(i)}})
	}
	if err != nil {
		return fmt.Errorf("operation %d on %s: %w", i, key, err)
	}
	return nil
}

// run performs operations from first on, from conc goroutines, until ctx ends or
// count operations are done (count 0: no limit). It returns when all goroutines are
// done.
func (w *writer) run(ctx context.Context, first, count, conc int) {
	var next atomic.Int64
	next.Store(int64(first))
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if count > 0 && i >= first+count {
					return
				}
				if err := w.op(context.Background(), i); err != nil {
					w.err.CompareAndSwap(nil, err)
					return
				}
				w.n.Add(1)
			}
		}()
	}
	wg.Wait()
}

// stream starts the writer in the background; the returned stop ends it and fails
// the test if an operation failed.
func (w *writer) stream(t testing.TB, first, conc int) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); w.run(ctx, first, 0, conc) }()
	return func() {
		t.Helper()
		cancel()
		<-done
		if err, _ := w.err.Load().(error); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
}

// waitOps waits until the writer did at least n operations.
func (w *writer) waitOps(t testing.TB, n int64, timeout time.Duration) {
	t.Helper()
	eventually(t, timeout, fmt.Sprintf("%d writes", n), func() error {
		if err, _ := w.err.Load().(error); err != nil {
			return err
		}
		if got := w.n.Load(); got < n {
			return fmt.Errorf("%d writes", got)
		}
		return nil
	})
}

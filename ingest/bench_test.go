package ingest_test

import (
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/devstack"

	"context"
	"flag"
	"fmt"
	"math"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/replconf"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// benchRecords is the journal size of BenchmarkIngest/backlog.
var benchRecords = flag.Int("ingest.records", 1_000_000, "BenchmarkIngest/backlog: object versions pre-filled into the journal")

// benchBatch is ingest's batch size in the benchmarks.
var benchBatch = flag.Int("ingest.batch", 500, "BenchmarkIngest: ingest's --batch-size (its default: 500)")

// BenchmarkIngest measures the real bin/ingest against real ZooKeeper, the dev broker
// and s3server:
//
//   - backlog: a journal pre-filled with -ingest.records small object versions (9 in 10
//     in the replicated bucket, so PENDING; 1 in 10 in the plain bucket) is drained
//     into Kafka: records/s read from the journal, PENDING messages/s and MB/s produced.
//     The journal is filled through s3server's own store (the code that writes it on
//     every PUT, with s3server's replication policy) with fsync off, because 1M PUTs
//     through the S3 API at ~2000 fsync'd PUTs/s would take ten minutes; s3server is
//     then restarted on that data directory and serves the journal as in production.
//   - live: 8 clients PUT through the S3 API (fsync on) for 5 s while ingest tails the
//     journal: the lag, sampled every 10 ms as journal head minus stored offset
//     (records), and as time from a PUT's journal record to its offset being stored.
func BenchmarkIngest(b *testing.B) {
	devstack.SkipShort(b, startsProcesses)
	b.Run("backlog", benchBacklog)
	b.Run("live", benchLive)
}

func benchBacklog(b *testing.B) {
	s := newStack(b)
	s.s3.Kill()
	start := time.Now()
	pendingN := prefill(b, s.s3.DataDir, *benchRecords)
	b.Logf("pre-filled %d versions (%d PENDING) in %s", *benchRecords, pendingN, time.Since(start).Round(time.Millisecond))
	s.s3.Restart()
	_, head, _ := s.readJournal(b) // also warms s3server's page cache
	var elapsed time.Duration
	var bytes float64
	b.ResetTimer()
	for i := range b.N {
		b.StopTimer()
		// A topic and a chroot of its own per iteration: each starts from offset 0.
		args := []string{"--topic", "bench-" + strconv.Itoa(i), "--zookeeper-chroot", "/bench-" + strconv.Itoa(i), "--poll-wait", "1s"}
		b.StartTimer()
		t0 := time.Now()
		in := s.startIngest(fmt.Sprintf("ingest-bench-%d", i), *benchBatch, args...)
		var m map[string]float64
		eventually(b, 10*time.Minute, "the backlog drained", func() error {
			var err error
			if m, err = scrape(context.Background(), in.metrics); err != nil {
				return err
			}
			if off := m["backbeat_ingest_read_offset"]; off < float64(head) {
				return fmt.Errorf("offset %v of %d", off, head)
			}
			return nil
		})
		elapsed += time.Since(t0)
		b.StopTimer()
		require.Equal(b, float64(pendingN), m["backbeat_ingest_messages_produced_total"], "every PENDING record produced once")
		bytes += m["backbeat_ingest_bytes_produced_total"]
		require.NoError(b, in.Stop())
		b.StartTimer()
	}
	b.StopTimer()
	sec := elapsed.Seconds()
	b.ReportMetric(float64(head)*float64(b.N)/sec, "records/s")
	b.ReportMetric(float64(pendingN)*float64(b.N)/sec, "msgs/s")
	b.ReportMetric(bytes/sec/1e6, "MB/s")
	b.ReportMetric(0, "ns/op")
}

// prefill writes n object versions into the store of an s3server data directory (the
// server stopped) with s3server's replication policy, fsync off, from 16 goroutines,
// and returns how many are PENDING.
func prefill(b testing.TB, dataDir string, n int) int {
	b.Helper()
	var mu sync.Mutex
	parsed := map[string]*replconf.Config{}
	// The same decision as s3server's replicationPolicy (server.go).
	policy := func(bk *store.Bucket, key string, tags map[string]string, deleteMarker bool) *store.Replication {
		if len(bk.ReplicationConfig) == 0 || bk.Versioning != store.VersioningEnabled {
			return nil
		}
		mu.Lock()
		c, ok := parsed[string(bk.ReplicationConfig)]
		if !ok {
			var err error
			if c, err = replconf.Parse(bk.ReplicationConfig); err != nil {
				mu.Unlock()
				return nil
			}
			parsed[string(bk.ReplicationConfig)] = c
		}
		mu.Unlock()
		m, ok := c.Match(key, tags, deleteMarker)
		if !ok {
			return nil
		}
		return &store.Replication{Status: bbproto.StatusPending, Role: m.Role, Destination: m.DestinationBucket,
			Site: m.StorageClass, RuleID: m.RuleID, Content: []bbproto.Content{bbproto.ContentData, bbproto.ContentMetadata}}
	}
	st, err := store.Open(dataDir, store.Options{Policy: policy, NoSync: true})
	require.NoError(b, err)
	defer st.Close()
	const conc = 16
	var pending atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, conc)
	for g := range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := g; i < n; i += conc {
				bucket := srcBucket
				if i%10 == 9 {
					bucket = plainBucket
				}
				v, err := st.PutObject(context.Background(), store.PutInput{Bucket: bucket, Key: fmt.Sprintf("obj-%05d", i%20000),
					Owner: "backbeatuser", ETag: "d41d8cd98f00b204e9800998ecf8427e",
					Meta: store.ObjectMeta{ContentType: "text/plain", UserMetadata: map[string]string{"i": strconv.Itoa(i)}}})
				if err != nil {
					errc <- err
					return
				}
				if v.Replication != nil && v.Replication.Status == bbproto.StatusPending {
					pending.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	close(errc)
	require.NoError(b, <-errc)
	return int(pending.Load())
}

func benchLive(b *testing.B) {
	s := newStack(b)
	in := s.startIngest("ingest-live", *benchBatch)
	in.waitState(b, "leader", 30*time.Second)
	jc := s.journalClient()
	type sample struct {
		at       time.Time
		head     uint64
		offset   uint64
		lagCount uint64
	}
	var puts int64
	var samples []sample
	b.ResetTimer()
	for range b.N {
		w := &writer{s3c: s.s3c, keys: 200}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		done := make(chan struct{})
		go func() { defer close(done); w.run(ctx, 0, 0, 8) }()
		for running := true; running; {
			select {
			case <-done:
				running = false
			case <-time.After(10 * time.Millisecond):
			}
			jb, err := jc.Read(context.Background(), math.MaxInt64, 1, 0)
			require.NoError(b, err)
			m, err := scrape(context.Background(), in.metrics)
			require.NoError(b, err)
			off := uint64(m["backbeat_ingest_read_offset"])
			sm := sample{at: time.Now(), head: jb.Head, offset: off}
			if jb.Head > off {
				sm.lagCount = jb.Head - off
			}
			samples = append(samples, sm)
		}
		cancel()
		if err, _ := w.err.Load().(error); err != nil {
			b.Fatal(err)
		}
		puts += w.n.Load()
		// Drain: until the offset reaches the final head.
		_, head, id := s.readJournal(b)
		s.waitOffset(b, id, head, time.Minute)
		samples = append(samples, sample{at: time.Now(), head: head, offset: head})
	}
	b.StopTimer()
	// Lag in records, and in time: for each sample's head, how long until a later
	// sample shows the offset at or past it.
	var maxLag, sumLag uint64
	var delays []time.Duration
	for i, sm := range samples {
		maxLag = max(maxLag, sm.lagCount)
		sumLag += sm.lagCount
		for _, later := range samples[i:] {
			if later.offset >= sm.head {
				delays = append(delays, later.at.Sub(sm.at))
				break
			}
		}
	}
	sort.Slice(delays, func(i, j int) bool { return delays[i] < delays[j] })
	b.ReportMetric(float64(puts)/(5*float64(b.N)), "puts/s")
	b.ReportMetric(float64(maxLag), "max-lag-records")
	b.ReportMetric(float64(sumLag)/float64(len(samples)), "mean-lag-records")
	if len(delays) > 0 {
		b.ReportMetric(float64(delays[len(delays)/2].Microseconds())/1000, "p50-lag-ms")
		b.ReportMetric(float64(delays[len(delays)*99/100].Microseconds())/1000, "p99-lag-ms")
	}
	b.ReportMetric(0, "ns/op")
}

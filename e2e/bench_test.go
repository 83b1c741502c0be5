package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/benchkit"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/journal"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

var (
	benchObjects = flag.Int("bench.objects", 300, "BenchmarkReplication: objects put per iteration")
	benchPutters = flag.Int("bench.putters", 8, "BenchmarkReplication: concurrent putters")
	benchIdle    = flag.Int("bench.idle", 10, "BenchmarkReplication: objects put one at a time first, for the unloaded latency")
	benchBridge  = flag.String("bench.bridge-args", "", "BenchmarkReplication: extra bridge flags, space-separated")
	benchWorker  = flag.String("bench.worker-args", "", "BenchmarkReplication: extra worker flags, space-separated")
	benchTemp    = flag.String("bench.temporal", "dev", "BenchmarkReplication: the Temporal servers to measure, comma-separated: dev (the dev server), postgres (the server on PostgreSQL)")
)

// BenchmarkReplication measures the whole engine, every process separate as the e2e
// tests start it, for 4 KiB objects on a topic of 1, 4 and 8 partitions: each iteration
// puts -bench.objects objects with -bench.putters concurrent putters and waits until
// every one is COMPLETED. It reports objects/s (first put to last COMPLETED) and the
// put→COMPLETED latency percentiles in ms: from the put's return to the commit of the
// COMPLETED status on the source, read from the source's journal (the status record's
// time: the moment a HEAD starts showing COMPLETED). idle-p50-ms is the same latency for
// objects put one at a time, with nothing queued. wft-wait-ms and act-wait-ms are the
// worker's mean schedule-to-start latencies of workflow and activity tasks (Temporal's
// dispatch), wft-run-ms, replicate-ms and status-ms the mean time running them.
// -bench.temporal=dev,postgres measures on the dev server and on the server on
// PostgreSQL (4 history shards) in one run, as sub-benchmarks temporal=dev/... and
// temporal=postgres/...; with the default (dev) the names have no temporal= level.
//
//	go test -run '^$' -bench Replication -benchtime 1x ./e2e/
//	go test -run '^$' -bench Replication -benchtime 1x ./e2e/ -args -bench.temporal=dev,postgres
func BenchmarkReplication(b *testing.B) {
	kinds := temporalKinds(b)
	run := func(b *testing.B, kind string) {
		for _, parts := range []int{1, 4, 8} {
			b.Run(fmt.Sprintf("partitions=%d", parts), func(b *testing.B) { benchReplication(b, parts, kind) })
		}
	}
	if *benchTemp == "dev" {
		run(b, "dev")
		return
	}
	for _, kind := range kinds {
		b.Run("temporal="+kind, func(b *testing.B) { run(b, kind) })
	}
}

// temporalKinds are the Temporal servers of -bench.temporal.
func temporalKinds(b *testing.B) []string {
	kinds := strings.Split(*benchTemp, ",")
	for _, kind := range kinds {
		if kind != "dev" && kind != "postgres" {
			b.Fatalf("-bench.temporal=%s: want dev or postgres, comma-separated", *benchTemp)
		}
	}
	return kinds
}

func benchReplication(b *testing.B, parts int, temporal string) {
	// The worker's metrics on a known address (the last --metrics-listen wins).
	workerMetrics := devstack.FreeAddr(b)
	opts := []stackOption{withPartitions(parts), withLogLevel("info"),
		withWorkerArgs(append(strings.Fields(*benchWorker), "--metrics-listen", workerMetrics)...)}
	if temporal == "postgres" {
		opts = append(opts, withTemporalPostgres())
	}
	if *benchBridge != "" {
		opts = append(opts, withBridgeArgs(strings.Fields(*benchBridge)...))
	}
	s := startStack(b, opts...)
	body := make([]byte, 4<<10)
	rand.Read(body)
	tail := newStatusTail(s.t, s.src.URL, srcBucket)

	// Unloaded latency: one object at a time (this also starts the workflows' first
	// partitions and warms every connection).
	var idle []time.Duration
	for i := range *benchIdle {
		r := putObjects(s, body, fmt.Sprintf("idle/%d", i), 1, 1)
		idle = append(idle, tail.wait(r, 2*time.Minute)...)
	}

	var lat []time.Duration
	var elapsed time.Duration
	before := scrapeTimers(b, workerMetrics)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		r := putObjects(s, body, fmt.Sprintf("it%d", i), *benchObjects, *benchPutters)
		lat = append(lat, tail.wait(r, 15*time.Minute)...)
		elapsed += time.Since(start)
	}
	b.StopTimer()
	after := scrapeTimers(b, workerMetrics)
	// Where an entry's time goes in the worker, averaged over the loaded iterations:
	// waiting for a worker to pick a task up, and running it.
	for _, m := range []struct{ unit, series string }{
		{"wft-wait-ms", "temporal_workflow_task_schedule_to_start_latency"},
		{"wft-run-ms", "temporal_workflow_task_execution_latency"},
		{"act-wait-ms", "temporal_activity_schedule_to_start_latency"},
		{"replicate-ms", "temporal_activity_execution_latency{" + contract.ActivityReplicate},
		{"status-ms", "temporal_activity_execution_latency{" + contract.ActivitySetStatus},
	} {
		if mean, ok := after.meanSince(before, m.series); ok {
			b.ReportMetric(mean*1000, m.unit)
		}
	}
	n := b.N * *benchObjects
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(n)/elapsed.Seconds(), "objects/s")
	b.ReportMetric(ms(benchkit.Percentile(lat, 50)), "p50-ms")
	b.ReportMetric(ms(benchkit.Percentile(lat, 99)), "p99-ms")
	if len(idle) > 0 {
		b.ReportMetric(ms(benchkit.Percentile(idle, 50)), "idle-p50-ms")
	}
}

// puts are the versions one round put, with the time each put returned.
type puts map[string]time.Time // versionId → put returned

// putObjects puts n objects prefix/NNNNN with the given concurrency.
func putObjects(s *stack, body []byte, prefix string, n, putters int) puts {
	s.t.Helper()
	out := puts{}
	var mu sync.Mutex
	var firstErr error
	idx := make(chan int)
	var wg sync.WaitGroup
	for range putters {
		wg.Go(func() {
			for i := range idx {
				res, err := s.srcC.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket),
					Key: aws.String(fmt.Sprintf("%s/%05d", prefix, i)), Body: bytes.NewReader(body), ContentType: aws.String("application/octet-stream")})
				at := time.Now()
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				} else if err == nil {
					out[aws.ToString(res.VersionId)] = at
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		idx <- i
	}
	close(idx)
	wg.Wait()
	if firstErr != nil {
		s.t.Fatalf("put: %v", firstErr)
	}
	return out
}

// statusTail follows the source's journal and remembers when each version's final
// status (COMPLETED or FAILED) was committed.
type statusTail struct {
	t    testing.TB
	mu   sync.Mutex
	cond *sync.Cond
	done map[string]bbproto.Record // versionId → its status record
	err  error
}

// newStatusTail follows the journal of the s3server at endpoint for the final statuses
// of bucket's versions, until the test ends.
func newStatusTail(t testing.TB, endpoint, bucket string) *statusTail {
	jc := journal.New(s3test.BBClientOf(endpoint, s3test.Replication))
	st := &statusTail{t: t, done: map[string]bbproto.Record{}}
	st.cond = sync.NewCond(&st.mu)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	t.Cleanup(func() { cancel(); <-stopped })
	go func() {
		defer close(stopped)
		var after uint64
		for ctx.Err() == nil {
			batch, err := jc.Read(ctx, after, 1000, 5*time.Second)
			if err != nil {
				if ctx.Err() == nil {
					st.mu.Lock()
					st.err = err
					st.cond.Broadcast()
					st.mu.Unlock()
				}
				return
			}
			st.mu.Lock()
			for _, r := range batch.Records {
				after = r.Seq
				if r.Op == bbproto.OpStatus && r.Bucket == bucket && r.Replication != nil &&
					(r.Replication.Status == bbproto.StatusCompleted || r.Replication.Status == bbproto.StatusFailed) {
					st.done[r.VersionID] = r
				}
			}
			st.cond.Broadcast()
			st.mu.Unlock()
		}
	}()
	return st
}

// wait waits until every version of p has its final status and returns the
// put→COMPLETED latencies; it fails on a FAILED version or at the deadline.
func (st *statusTail) wait(p puts, timeout time.Duration) []time.Duration {
	st.t.Helper()
	lat, missing := st.collect(p, timeout)
	if missing > 0 {
		st.t.Fatalf("after %s, %d of %d versions are not COMPLETED", timeout, missing, len(p))
	}
	return lat
}

// collect waits until every version of p has its final status or the timeout passes,
// and returns the put→COMPLETED latencies of the versions done and how many are still
// missing; it fails on a FAILED version or when the journal cannot be read.
func (st *statusTail) collect(p puts, timeout time.Duration) (lat []time.Duration, missing int) {
	st.t.Helper()
	deadline := time.Now().Add(timeout)
	wake := time.AfterFunc(timeout, func() { st.mu.Lock(); st.cond.Broadcast(); st.mu.Unlock() })
	defer wake.Stop()
	st.mu.Lock()
	defer st.mu.Unlock()
	for {
		missing = 0
		for id := range p {
			if _, ok := st.done[id]; !ok {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		if st.err != nil {
			st.t.Fatalf("journal tail: %v", st.err)
		}
		st.cond.Wait()
	}
	for id, at := range p {
		r, ok := st.done[id]
		if !ok {
			continue
		}
		if r.Replication.Status != bbproto.StatusCompleted {
			st.t.Fatalf("version %s ended %s: %s", id, r.Replication.Status, r.Replication.Reason)
		}
		lat = append(lat, r.Time.Sub(at))
	}
	return lat, missing
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// timers are the _sum and _count series of the worker's histograms, by series name with
// its labels ("name{labels}").
type timers struct{ sum, count map[string]float64 }

// scrapeTimers reads the histograms of a worker's /metrics (empty when it cannot).
func scrapeTimers(b *testing.B, addr string) timers {
	t := timers{sum: map[string]float64{}, count: map[string]float64{}}
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Logf("worker metrics: %v", err)
		return t
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		sp := strings.LastIndexByte(line, ' ')
		if strings.HasPrefix(line, "#") || sp < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			continue
		}
		name, labels, _ := strings.Cut(line[:sp], "{")
		if base, ok := strings.CutSuffix(name, "_sum"); ok {
			t.sum[base+"{"+labels] += v
		} else if base, ok := strings.CutSuffix(name, "_count"); ok {
			t.count[base+"{"+labels] += v
		}
	}
	return t
}

// meanSince is the mean in seconds of the observations made since prev of every series
// whose name (without the _seconds unit) and labels start with prefix, e.g.
// "temporal_activity_execution_latency{ReplicateVersion" matches the activity_type label
// wherever it is in the label list.
func (t timers) meanSince(prev timers, prefix string) (float64, bool) {
	name, label, _ := strings.Cut(prefix, "{")
	var sum, count float64
	for k, c := range t.count {
		n, labels, _ := strings.Cut(k, "{")
		if strings.TrimSuffix(n, "_seconds") != name || (label != "" && !strings.Contains(labels, `"`+label+`"`)) {
			continue
		}
		sum += t.sum[k] - prev.sum[k]
		count += c - prev.count[k]
	}
	if count <= 0 {
		return 0, false
	}
	return sum / count, true
}

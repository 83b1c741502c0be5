package starter

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/enginetest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// statsOf runs stats --output json (with args) and decodes its reports, one per line.
func statsOf(t *testing.T, b *binary, args ...string) ([]Stats, result) {
	t.Helper()
	r := b.run(t, append([]string{"stats", "--output", "json"}, args...)...)
	var out []Stats
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	for dec.More() {
		var s Stats
		if err := dec.Decode(&s); err != nil {
			t.Fatalf("stats output is not JSON: %v\n%s", err, r)
		}
		out = append(out, s)
	}
	return out, r
}

// bucketStats is the report's line of source-bucket -> target-bucket.
func bucketStats(st Stats) BucketStats {
	for _, b := range st.Buckets {
		if b.Bucket == "source-bucket" && b.Destination == "arn:aws:s3:::target-bucket" {
			return b
		}
	}
	return BucketStats{}
}

// kafkaLagSum is the report's Kafka lag over every partition, and whether every
// partition has one.
func kafkaLagSum(st Stats) (int64, bool) {
	var sum int64
	for _, p := range st.Partitions {
		if p.Kafka == nil {
			return 0, false
		}
		sum += p.Kafka.Lag
	}
	return sum, len(st.Partitions) > 0
}

// stats against the running engine: the counts move as versions are replicated; the
// rates are above 0 while objects are written and 0 once all is replicated; with the
// bridge stopped the Kafka lag counts the new versions, and drains to 0 when it is back;
// with the worker stopped the PENDING versions stay and the oldest one's age grows
// (--watch shows it in consecutive reports); the worker back, they end COMPLETED. A
// source that cannot be read is said, the rest shown.
func TestStatsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts every process of the engine")
	}
	useProfiles(t)
	e := enginetest.Start(t, enginetest.Options{Partitions: 2})
	metrics := strings.Join([]string{e.IngestMetrics, e.BridgeMetrics, e.WorkerMetrics}, ",")
	b := buildStarter(t, EnvSourceEndpoint+"="+e.Src.URL, EnvTargetEndpoint+"="+e.Dst.URL, "AWS_PROFILE="+profUser,
		EnvReplicationProfile+"="+profReplication, EnvTemporalAddress+"="+e.Temporal.Addr(),
		EnvMetricsURLs+"="+metrics, EnvKafkaBrokers+"="+e.Kafka.Addr())
	srcC := e.Src.Client(s3test.User)
	r := b.run(t, "setup", "--source-bucket", "source-bucket", "--target-bucket", "target-bucket", "--site", "dr")
	require.Equal(t, ExitOK, r.code, r)

	for i := range 3 {
		putObject(t, srcC, "source-bucket", fmt.Sprintf("first/%d", i), "data")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, r := statsOf(t, b)
		if !assert.Equal(c, ExitOK, r.code, r.String()) || !assert.Len(c, reports, 1) {
			return
		}
		bs := bucketStats(reports[0])
		assert.Equal(c, 3, bs.Completed, "%+v", reports[0])
		assert.Zero(c, bs.Pending)
		assert.Nil(c, bs.OldestPending)
		var completed int64
		for _, p := range reports[0].Partitions {
			completed += p.Completed
		}
		assert.EqualValues(c, 3, completed, "the partition workflows' counters")
		assert.Len(c, reports[0].Partitions, 2)
		lag, ok := kafkaLagSum(reports[0])
		assert.True(c, ok, "every partition has its Kafka lag: %+v", reports[0].Partitions)
		assert.Zero(c, lag, "drained")
		if tp := reports[0].Throughput; assert.NotNil(c, tp) && assert.NotNil(c, tp.PutToCompleted) {
			assert.EqualValues(c, 3, tp.PutToCompleted.Count, "3 completions since the worker started")
			assert.Greater(c, tp.PutToCompleted.P50Seconds, 0.0)
			assert.GreaterOrEqual(c, tp.PutToCompleted.P99Seconds, tp.PutToCompleted.P50Seconds)
			assert.GreaterOrEqual(c, tp.WindowSeconds, 1.0, "--rate-window 1s between the scrapes")
			assert.Len(c, tp.Sources, 3)
		}
	}, 2*time.Minute, 500*time.Millisecond, "stats shows the 3 versions COMPLETED")
	r = b.run(t, "stats")
	require.Equal(t, ExitOK, r.code, r)
	assert.Regexp(t, `(?m)^source-bucket\s+arn:aws:s3:::target-bucket\s+0\s+-\s+3\s+0$`, r.stdout)
	assert.Regexp(t, `(?m)^PARTITION\s+KAFKA-LAG\s+BACKLOG\s+PAUSED\s+BRIDGE-PAUSED`, r.stdout)
	assert.Regexp(t, `(?m)^0\s+0\s+0\s+no\s+no\s`, r.stdout, "partition 0: no lag, nothing queued, not paused")
	assert.Regexp(t, `(?m)^COMPLETED/S\s+FAILED/S\s+BYTES/S\s+PUT->COMPLETED P50\s+P99\s+OF$`, r.stdout)

	// Rates: above 0 while objects are written and replicated, 0 once all is done.
	written := 3
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		stop := make(chan struct{})
		done := make(chan int)
		go func() { // writes while stats samples the metrics
			n := 0
			defer func() { done <- n }()
			for {
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
					_, err := srcC.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("source-bucket"),
						Key: aws.String(fmt.Sprintf("busy/%d", written+n)), Body: strings.NewReader("some data")})
					if err == nil { // a failed put is not counted (it is not the test's subject)
						n++
					}
				}
			}
		}()
		reports, r := statsOf(t, b, "--rate-window", "2s")
		close(stop)
		written += <-done
		if assert.Len(c, reports, 1, r.String()) && assert.NotNil(c, reports[0].Throughput, r.String()) {
			tp := reports[0].Throughput
			assert.Greater(c, tp.CompletedPerSecond, 0.0, "versions complete while objects are written")
			assert.Greater(c, tp.BytesPerSecond, 0.0)
			assert.Zero(c, tp.FailedPerSecond)
			if assert.NotNil(c, tp.PutToCompleted) {
				assert.Equal(c, LatencyWindow, tp.PutToCompleted.Window, "percentiles of the window's completions")
			}
		}
	}, time.Minute, 100*time.Millisecond)
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, r := statsOf(t, b)
		if assert.Equal(c, ExitOK, r.code, r.String()) && assert.Len(c, reports, 1) && assert.NotNil(c, reports[0].Throughput) {
			assert.Equal(c, written, bucketStats(reports[0]).Completed)
			assert.Zero(c, reports[0].Throughput.CompletedPerSecond, "nothing moves")
			assert.Zero(c, reports[0].Throughput.BytesPerSecond)
		}
	}, 2*time.Minute, 500*time.Millisecond, "every version written is COMPLETED and the rates fall to 0")

	// No bridge: the new versions wait in Kafka (lag), and drain when it is back.
	require.NoError(t, e.Bridge.Stop())
	for i := range 2 {
		putObject(t, srcC, "source-bucket", fmt.Sprintf("lag/%d", i), "data")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, _ := statsOf(t, b)
		if assert.Len(c, reports, 1) {
			lag, ok := kafkaLagSum(reports[0])
			assert.True(c, ok)
			assert.EqualValues(c, 2, lag, "the 2 new versions are in Kafka, not consumed: %+v", reports[0].Partitions)
			assert.Equal(c, 2, bucketStats(reports[0]).Pending)
			assert.NotEmpty(c, reports[0].Errors, "the bridge's metrics are unreachable")
		}
	}, time.Minute, 500*time.Millisecond)
	require.NoError(t, e.Bridge.Start())
	written += 2
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, r := statsOf(t, b)
		if assert.Equal(c, ExitOK, r.code, r.String()) && assert.Len(c, reports, 1) {
			lag, ok := kafkaLagSum(reports[0])
			assert.True(c, ok)
			assert.Zero(c, lag, "drained")
			assert.Equal(c, written, bucketStats(reports[0]).Completed)
		}
	}, 2*time.Minute, 500*time.Millisecond, "the bridge back, the lag drains to 0 and the versions complete")

	// A source that cannot be read is said; the rest is shown.
	closedMetrics, closedKafka := closedURL(t), strings.TrimPrefix(closedURL(t), "http://")
	r = b.run(t, "stats", "--output", "json", "--metrics-url", e.WorkerMetrics, "--metrics-url", closedMetrics, "--kafka-brokers", closedKafka, "--timeout", "3s")
	assert.Equal(t, ExitFailed, r.code, r.String())
	var partial Stats
	require.NoError(t, jsonUnmarshal(r.stdout, &partial), r.String())
	assert.Equal(t, written, bucketStats(partial).Completed)
	assert.NotNil(t, partial.Throughput, "the worker's metrics were read")
	assert.Len(t, partial.Partitions, 2, "the partition workflows were read")
	errs := strings.Join(partial.Errors, "\n")
	assert.Contains(t, errs, "metrics "+closedMetrics+"/metrics unreachable")
	assert.Contains(t, errs, "Kafka lag: connect at")
	assert.Contains(t, errs, "check --kafka-brokers")

	// No worker: the new versions stay PENDING, the oldest gets older.
	require.NoError(t, e.Worker.Stop())
	for i := range 2 {
		putObject(t, srcC, "source-bucket", fmt.Sprintf("second/%d", i), "data")
	}
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, _ := statsOf(t, b, "--timeout", "2s", "--watch", "--count", "2", "--interval", "1500ms")
		if !assert.Len(c, reports, 2) {
			return
		}
		first, second := bucketStats(reports[0]), bucketStats(reports[1])
		assert.Equal(c, 2, first.Pending)
		assert.Equal(c, 2, second.Pending)
		assert.Equal(c, written, second.Completed)
		if assert.NotNil(c, first.OldestPending) && assert.NotNil(c, second.OldestPending) {
			assert.Equal(c, *first.OldestPending, *second.OldestPending, "the same version is the oldest PENDING")
			assert.Greater(c, second.OldestPendingSeconds, first.OldestPendingSeconds, "its age grows")
		}
		assert.NotEmpty(c, reports[1].Errors, "the partition workflows do not answer without a worker")
	}, time.Minute, 500*time.Millisecond)
	r = b.run(t, "stats", "--timeout", "2s")
	assert.Equal(t, ExitFailed, r.code, "a part of the report is missing: %s", r)
	assert.Contains(t, r.stderr, "could not be read")
	assert.Regexp(t, `(?m)^source-bucket\s+arn:aws:s3:::target-bucket\s+2\s+\S+s\s+`+fmt.Sprint(written)+`\s+0$`, r.stdout)
	assert.Contains(t, r.stdout, "throughput: unknown")
	assert.Contains(t, r.stdout, "not read: metrics http://"+e.WorkerMetrics+"/metrics unreachable")

	// The worker back: everything ends COMPLETED.
	require.NoError(t, e.Worker.Start())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, r := statsOf(t, b)
		if assert.Equal(c, ExitOK, r.code, r.String()) && assert.Len(c, reports, 1) {
			bs := bucketStats(reports[0])
			assert.Equal(c, written+2, bs.Completed)
			assert.Zero(c, bs.Pending)
		}
	}, 2*time.Minute, 500*time.Millisecond, "the PENDING versions end COMPLETED once the worker is back")
}

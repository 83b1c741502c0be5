package starter

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

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

// stats against the running engine: the counts move as versions are replicated; with
// the worker stopped the PENDING versions stay and the oldest one's age grows (--watch
// shows it in consecutive reports); the worker back, they end COMPLETED.
func TestStatsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts every process of the engine")
	}
	useProfiles(t)
	e := enginetest.Start(t, enginetest.Options{Partitions: 2})
	b := buildStarter(t, EnvSourceEndpoint+"="+e.Src.URL, EnvTargetEndpoint+"="+e.Dst.URL, "AWS_PROFILE="+profUser,
		EnvReplicationProfile+"="+profReplication, EnvTemporalAddress+"="+e.Temporal.Addr())
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
	}, 2*time.Minute, 500*time.Millisecond, "stats shows the 3 versions COMPLETED")
	r = b.run(t, "stats")
	require.Equal(t, ExitOK, r.code, r)
	assert.Regexp(t, `(?m)^source-bucket\s+arn:aws:s3:::target-bucket\s+0\s+-\s+3\s+0$`, r.stdout)
	assert.Contains(t, r.stdout, "PARTITION")

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
		assert.Equal(c, 3, second.Completed)
		if assert.NotNil(c, first.OldestPending) && assert.NotNil(c, second.OldestPending) {
			assert.Equal(c, *first.OldestPending, *second.OldestPending, "the same version is the oldest PENDING")
			assert.Greater(c, second.OldestPendingSeconds, first.OldestPendingSeconds, "its age grows")
		}
		assert.NotEmpty(c, reports[1].Errors, "the partition workflows do not answer without a worker")
	}, time.Minute, 500*time.Millisecond)
	r = b.run(t, "stats", "--timeout", "2s")
	assert.Equal(t, ExitFailed, r.code, "a part of the report is missing: %s", r)
	assert.Contains(t, r.stderr, "could not be read")
	assert.Regexp(t, `(?m)^source-bucket\s+arn:aws:s3:::target-bucket\s+2\s+\S+s\s+3\s+0$`, r.stdout)

	// The worker back: everything ends COMPLETED.
	require.NoError(t, e.Worker.Start())
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		reports, r := statsOf(t, b)
		if assert.Equal(c, ExitOK, r.code, r.String()) && assert.Len(c, reports, 1) {
			bs := bucketStats(reports[0])
			assert.Equal(c, 5, bs.Completed)
			assert.Zero(c, bs.Pending)
		}
	}, 2*time.Minute, 500*time.Millisecond, "the PENDING versions end COMPLETED once the worker is back")
}

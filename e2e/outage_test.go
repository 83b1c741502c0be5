package e2e

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
)

// TestTargetDownLongerThanOldBudget: the target s3server is down for 40 s, longer than
// the old retry budget (5 retries over ~13 s with Backbeat's backoff; ~8 s with the test
// backoff), while versions are written. With durable retries no version is FAILED: the
// partitions show entries waiting and the target's breaker open, and once the target is
// back every version ends COMPLETED, with no operator action.
func TestTargetDownLongerThanOldBudget(t *testing.T) {
	const outage = 40 * time.Second
	const n = 12
	s := startStack(t, withLogLevel("info"),
		// The breaker's probes back off like retries, capped by --retry-max-interval (5 min
		// by default): capped at 20 s here, so that the partitions recover well within
		// the 3 minutes this test waits (with the default, a partition may wait up to 5
		// minutes for its next probe: the test failed so on busy machines).
		withWorkerArgs("--retries", "2", "--breaker-threshold", "3", "--retry-budget", "1h", "--retry-max-interval", "20s"))

	// Warm: one version replicated with the target up.
	_, err := s.srcC.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("warm"),
		Body: bytes.NewReader([]byte("warm"))})
	require.NoError(t, err)
	s.waitSettled(2*time.Minute, 1)

	s.dst.Kill()
	down := time.Now()
	ids := map[string]string{}
	for i := range n {
		key := fmt.Sprintf("during-outage/%02d", i)
		out, err := s.srcC.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key),
			Body: bytes.NewReader([]byte("data of " + key))})
		require.NoError(t, err)
		ids[key] = aws.ToString(out.VersionId)
	}

	// The partitions report entries waiting to retry and the target's breaker open.
	tc := s.temporal.Client()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		waiting, open := 0, 0
		for p := range int32(partitions) {
			v, err := tc.QueryWorkflow(s.ctx, contract.WorkflowID(contract.DefaultTopic, p), "", contract.QueryStatus)
			if err != nil {
				continue // no entry on this partition yet
			}
			var st contract.Status
			if assert.NoError(c, v.Get(&st)) {
				waiting += st.WaitingCount
				open += len(st.Breakers)
				assert.Zero(c, st.Failed, "partition %d: nothing FAILED during the outage", p)
			}
		}
		assert.Positive(c, waiting, "entries waiting to retry")
		assert.Positive(c, open, "an open breaker")
	}, outage, 250*time.Millisecond)

	// Keep the target down for the whole outage, checking that nothing turns FAILED.
	for time.Since(down) < outage {
		for _, v := range s.versions(s.src, s.srcC, srcBucket) {
			require.NotEqual(t, "FAILED", v.status(), "%s@%s FAILED during the outage: %+v", v.Key, v.VersionID, v.Replication)
		}
		time.Sleep(time.Second) // the outage's pace, not a synchronisation
	}
	s.dst.Restart()
	t.Logf("target back after %s", time.Since(down).Round(time.Second))

	vs := s.waitSettled(3*time.Minute, n+1)
	require.Len(t, vs, n+1)
	for _, v := range vs {
		assert.Equal(t, "COMPLETED", v.status(), "%s@%s: %+v", v.Key, v.VersionID, v.Replication)
	}
	for key, id := range ids {
		h, err := s.dstC.HeadObject(s.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(key), VersionId: aws.String(id)})
		if assert.NoError(t, err, key) {
			assert.Equal(t, s3types.ReplicationStatusReplica, h.ReplicationStatus, key)
		}
	}
}

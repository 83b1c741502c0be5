package ingest_test

import (
	"context"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestIntegration: puts, overwrites, delete markers, tag changes and puts in a bucket
// without replication, some before ingest starts and some while it tails, give exactly
// the journal's PENDING records in Kafka (no duplicate in a run without failures), every
// version of a key in one partition in journal order; the offset znode holds the
// journal head; the topic has the configured 4 partitions; /metrics agrees.
func TestIntegration(t *testing.T) {
	devstack.SkipShort(t, startsProcesses)
	t.Parallel()
	s := newStack(t)
	ctx := context.Background()
	w := &writer{s3c: s.s3c, keys: 7}
	w.run(ctx, 0, 60, 2) // backlog before ingest starts
	require.Nil(t, w.err.Load())

	in := s.startIngest("ingest", 16, "--partitions", "4")
	in.waitState(t, "leader", 30*time.Second)
	w.run(ctx, 60, 60, 2) // tailed by the long-poll
	require.Nil(t, w.err.Load())
	// A specific version deleted: journaled as delete-version, not PENDING.
	vs, err := s.s3c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(srcBucket)})
	require.NoError(t, err)
	require.NotEmpty(t, vs.Versions)
	_, err = s.s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: vs.Versions[0].Key, VersionId: vs.Versions[0].VersionId})
	require.NoError(t, err)

	recs, head, journalID := s.readJournal(t)
	pending := pendingOf(recs)
	ops := map[bbproto.Op]int{}
	for _, r := range pending {
		ops[r.Op]++
		assert.Equal(t, srcBucket, r.Bucket)
	}
	t.Logf("journal: %d records, %d PENDING %v", len(recs), len(pending), ops)
	require.Positive(t, ops[bbproto.OpPut])
	require.Positive(t, ops[bbproto.OpDeleteMarker])
	require.Positive(t, ops[bbproto.OpMetadata], "tag changes are PENDING metadata records")
	require.Less(t, len(pending), len(recs), "the plain bucket, bucket operations and the version delete are not PENDING")

	s.waitOffset(t, journalID, head, 60*time.Second)
	msgs, parts := s.waitDelivered(t, pending, 10*time.Second)
	assert.Equal(t, 4, parts, "topic created with --partitions 4")
	dups := checkDelivery(t, journalID, pending, msgs)
	assert.Zero(t, dups, "no duplicate without failures")
	assert.Len(t, msgs, len(pending), "exactly the PENDING records")

	// The znode's format: the decimal ASCII of the last seq, nothing else.
	raw, err := zkGet(s.zk.Addr(), offsetPath(journalID))
	require.NoError(t, err)
	assert.Regexp(t, `^[1-9][0-9]*$`, string(raw))

	// Metrics: read offset, head, lag, messages, bytes, errors.
	eventually(t, 10*time.Second, "metrics caught up", func() error {
		m, err := scrape(ctxT(t, 5*time.Second), in.metrics)
		if err != nil {
			return err
		}
		if m["backbeat_ingest_read_offset"] != float64(head) {
			return assert.AnError
		}
		return nil
	})
	m := in.scrape(t)
	assert.Equal(t, float64(head), m["backbeat_ingest_read_offset"])
	assert.Equal(t, float64(head), m["backbeat_ingest_journal_head"])
	assert.Zero(t, m["backbeat_ingest_lag"])
	assert.Equal(t, 1.0, m["backbeat_ingest_leader"])
	assert.Equal(t, float64(len(pending)), m["backbeat_ingest_messages_produced_total"])
	assert.Equal(t, float64(len(recs)), m["backbeat_ingest_records_read_total"])
	assert.Greater(t, m["backbeat_ingest_bytes_produced_total"], float64(len(pending)*100))
	for _, stage := range []string{"journal", "malformed", "kafka", "zookeeper"} {
		v, ok := m[`backbeat_ingest_errors_total{stage="`+stage+`"}`]
		assert.True(t, ok, "errors series of stage %s exported", stage)
		assert.Zero(t, v, "no %s error", stage)
	}
	h := in.health(t)
	assert.Equal(t, 200, h.Status)
	assert.Equal(t, "leader", h.State)
	assert.True(t, h.Healthy)

	// A clean stop (SIGTERM) exits 0 and a restart resumes from the offset: nothing is
	// produced again.
	require.NoError(t, in.Stop())
	require.NoError(t, in.Wait(context.Background()))
	require.NoError(t, in.Start())
	in.waitState(t, "leader", 30*time.Second)
	w.run(ctx, 120, 20, 1)
	recs, head, _ = s.readJournal(t)
	pending = pendingOf(recs)
	s.waitOffset(t, journalID, head, 30*time.Second)
	msgs, _ = s.waitDelivered(t, pending, 10*time.Second)
	assert.Zero(t, checkDelivery(t, journalID, pending, msgs), "a restart after a clean stop resends nothing")
	assert.Len(t, msgs, len(pending))
}

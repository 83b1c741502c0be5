package activities

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// TestReplicateBatch runs ReplicateBatch against two real s3servers: a put, a delete
// marker, a metadata-only change, a source version deleted before the batch, and an
// entry that the previous attempt's heartbeat says is done (it is not redone: only its
// status is written).
func TestReplicateBatch(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	a := NewActivities(r, &fakeMetrics{}, nil)

	vDone := e.put("done-before", []byte("d"))
	recDone := e.pending()
	vPut := e.put("put", []byte("data"))
	recPut := e.pending()
	vMeta := e.put("meta", []byte("m"))
	_, err := r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	_, err = e.srcC.PutObjectTagging(e.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(srcBucket), Key: aws.String("meta"), VersionId: aws.String(vMeta),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("t"), Value: aws.String("1")}}}})
	require.NoError(t, err)
	recMeta := e.pending()
	require.Equal(t, bbproto.OpMetadata, recMeta.Op)
	del, err := e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("put-then-deleted")})
	require.NoError(t, err)
	recDM := e.pending()
	vGone := e.put("gone", []byte("g"))
	recGone := e.pending()
	_, err = e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("gone"), VersionId: aws.String(vGone)})
	require.NoError(t, err)

	in := contract.ReplicateBatchInput{Parallelism: 2}
	for _, rec := range []bbproto.Record{recDone, recPut, recMeta, recDM, recGone} {
		in.Entries = append(in.Entries, entry(rec).Entry)
	}
	env := quietSuite().NewTestActivityEnvironment()
	a.Register(env)
	prev := batchProgress{Outcomes: make([]contract.EntryOutcome, len(in.Entries))}
	prev.Outcomes[0] = contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted}
	env.SetHeartbeatDetails(prev)
	val, err := env.ExecuteActivity(contract.ActivityReplicateBatch, in)
	require.NoError(t, err)
	var res contract.ReplicateBatchResult
	require.NoError(t, val.Get(&res))
	require.Len(t, res.Outcomes, 5)
	var outcomes []string
	for _, o := range res.Outcomes {
		outcomes = append(outcomes, o.Outcome)
	}
	assert.Equal(t, []string{contract.OutcomeDone, contract.OutcomeDone, contract.OutcomeDone, contract.OutcomeDone, contract.OutcomeGone}, outcomes)
	for i := range 4 {
		assert.True(t, res.Outcomes[i].StatusWritten, "entry %d: %+v", i, res.Outcomes[i])
	}
	assert.Equal(t, int64(4), res.Outcomes[1].Bytes)

	assert.Nil(t, e.version(e.dst, dstBucket, "done-before", vDone), "an entry done by an earlier attempt is not redone")
	assert.NotNil(t, e.version(e.dst, dstBucket, "put", vPut))
	dm := e.version(e.dst, dstBucket, "put-then-deleted", aws.ToString(del.VersionId))
	require.NotNil(t, dm)
	assert.True(t, dm.IsDeleteMarker)
	assert.Equal(t, map[string]string{"t": "1"}, e.version(e.dst, dstBucket, "meta", vMeta).Meta.Tags)
	for _, v := range []struct{ key, id string }{{"done-before", vDone}, {"put", vPut}, {"meta", vMeta}, {"put-then-deleted", aws.ToString(del.VersionId)}} {
		src := e.version(e.src, srcBucket, v.key, v.id)
		require.NotNil(t, src, v.key)
		require.NotNil(t, src.Replication, v.key)
		assert.Equal(t, bbproto.StatusCompleted, src.Replication.Status, v.key)
	}
}

// TestReplicateBatchMultipartSourceKeepsETag: a multipart source object below
// LargeObjectSize lands in a batch; the batch copies it by the source's parts (as
// ReplicateVersion does), so the target's ETag is the source's. Only the resume of an
// interrupted upload is not done in a batch (a retried attempt sends the parts again,
// at most LargeObjectSize bytes).
func TestReplicateBatchMultipartSourceKeepsETag(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	a := NewActivities(r, &fakeMetrics{}, nil)
	done, all := e.putMultipart("mpu", nil, 5<<20, 5<<20, 77)
	rec := e.pending()
	require.Less(t, rec.Size, int64(contract.DefaultLargeObjectSize), "batchable by size")
	vPlain := e.put("plain", []byte("p"))
	recPlain := e.pending()

	env := quietSuite().NewTestActivityEnvironment()
	a.Register(env)
	val, err := env.ExecuteActivity(contract.ActivityReplicateBatch, contract.ReplicateBatchInput{Entries: []contract.Entry{entry(rec).Entry, entry(recPlain).Entry}})
	require.NoError(t, err)
	var res contract.ReplicateBatchResult
	require.NoError(t, val.Get(&res))
	require.Len(t, res.Outcomes, 2)
	for i, o := range res.Outcomes {
		assert.Equal(t, contract.OutcomeDone, o.Outcome, "entry %d: %+v", i, o)
		assert.True(t, o.StatusWritten, "entry %d: %+v", i, o)
	}
	assert.Equal(t, int64(len(all)), res.Outcomes[0].Bytes)
	got := e.version(e.dst, dstBucket, "mpu", aws.ToString(done.VersionId))
	require.NotNil(t, got)
	assert.Equal(t, strings.Trim(aws.ToString(done.ETag), `"`), got.ETag, "same parts, same ETag")
	assert.Equal(t, md5hex(all), e.md5Of(e.dstC, dstBucket, "mpu", got.VersionID))
	assert.NotNil(t, e.version(e.dst, dstBucket, "plain", vPlain))
}

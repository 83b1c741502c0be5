package activities

import (
	"github.com/backbeat-temporal/backbeat/bbproto"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// latestOnTarget returns the MetaSourceVersionID of the target's latest version of key,
// "" when the key reads as absent (deleted).
func (e *env) latestOnTarget(key string) string {
	e.t.Helper()
	head, err := e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(key)})
	if err != nil {
		require.Equal(e.t, "NotFound", s3Code(err), "%v", err)
		return ""
	}
	return head.Metadata[MetaSourceVersionID]
}

// deleteOnSource writes a delete marker of key on the source and returns its pending
// journal record.
func (e *env) deleteOnSource(key string) bbproto.Record {
	e.t.Helper()
	_, err := e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(key)})
	require.NoError(e.t, err)
	rec := e.pending()
	require.Equal(e.t, bbproto.OpDeleteMarker, rec.Op)
	return rec
}

func TestPlainS3DeleteMarkerKeepsTheObjectDeleted(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3, s3test.User))

	// v1 replicated, then deleted: a replay of v1 finds it below the delete marker.
	v1 := e.put("k", []byte("one"))
	rec1 := e.pending()
	_, err := r.Replicate(e.ctx, rec1, nil)
	require.NoError(t, err)
	res, err := r.Replicate(e.ctx, e.deleteOnSource("k"), nil)
	require.NoError(t, err)
	assert.Equal(t, ActionDeleteMarker, res.Action)
	res, err = r.Replicate(e.ctx, rec1, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action, "the target holds v1 below its delete marker")
	assert.Empty(t, e.latestOnTarget("k"), "still deleted")

	// v2 written after the deletion is replicated on top of the delete marker.
	v2 := e.put("k", []byte("two"))
	res, err = r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	assert.Equal(t, ActionCopied, res.Action)
	assert.Equal(t, v2, e.latestOnTarget("k"))
	assert.NotEqual(t, v1, v2)

	// A version whose copy never happened, deleted on the source afterwards, arrives
	// after the deletion was replicated: writing it would bring it back.
	e.put("gone", []byte("old data"))
	lost := e.pending()
	res, err = r.Replicate(e.ctx, e.deleteOnSource("gone"), nil)
	require.NoError(t, err)
	assert.Equal(t, ActionDeleteMarker, res.Action)
	e.transport.take()
	_, err = r.Replicate(e.ctx, lost, nil)
	require.Error(t, err)
	assert.Equal(t, contract.KindNonRetryable, KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "deleted on the source after it")
	assert.Zero(t, e.transport.take()["PUT object"])
	assert.Empty(t, e.latestOnTarget("gone"), "the deleted object did not come back")
}

func TestPlainS3OlderVersionAfterANewerOne(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3, s3test.User))
	e.put("k", []byte("one"))
	rec1 := e.pending()
	v2 := e.put("k", []byte("two!"))
	rec2 := e.pending()

	res, err := r.Replicate(e.ctx, rec2, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionCopied, res.Action)
	e.transport.take()
	_, err = r.Replicate(e.ctx, rec1, nil)
	require.Error(t, err, "an older version the target does not hold is not COMPLETED")
	assert.Equal(t, contract.KindNonRetryable, KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "replicating the newer source version "+v2)
	assert.Zero(t, e.transport.take()["PUT object"])
	assert.Equal(t, v2, e.latestOnTarget("k"), "the newer version stays the latest")

	// Its FAILED status, with the reason, is written.
	_, err = r.SetStatus(e.ctx, srcBucket, "k", rec1.VersionID, bbproto.StatusFailed, err.Error())
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusFailed, e.status("k", rec1.VersionID).Status)

	// A delete marker older than the target's latest would delete the newer version.
	rec3 := e.deleteOnSource("k")
	v4 := e.put("k", []byte("four"))
	_, err = r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	_, err = r.Replicate(e.ctx, rec3, nil)
	require.Error(t, err)
	assert.Equal(t, contract.KindNonRetryable, KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "deleting now would delete it")
	assert.Equal(t, v4, e.latestOnTarget("k"))
}

func TestPlainS3IdempotentReRuns(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3, s3test.User))
	v1 := e.put("k", []byte("one"))
	rec1 := e.pending()
	rm := e.deleteOnSource("k")
	v2 := e.put("k", []byte("two"))
	rec2 := e.pending()
	for _, rec := range []bbproto.Record{rec1, rm, rec2} {
		res, err := r.Replicate(e.ctx, rec, nil)
		require.NoError(t, err)
		assert.NotEqual(t, ActionAlreadyPresent, res.Action)
	}
	require.Equal(t, v2, e.latestOnTarget("k"))

	// Every entry again, in any order: nothing written, the latest unchanged.
	for _, rec := range []bbproto.Record{rec2, rec1, rm, rec2} {
		e.transport.take()
		res, err := r.Replicate(e.ctx, rec, nil)
		require.NoError(t, err, "re-run of %s", rec.VersionID)
		assert.Equal(t, ActionAlreadyPresent, res.Action, "re-run of %s", rec.VersionID)
		counts := e.transport.take()
		assert.Zero(t, counts["PUT object"]+counts["DELETE object"]+counts["PUT tagging"], "re-run of %s: %v", rec.VersionID, counts)
	}
	assert.Equal(t, v2, e.latestOnTarget("k"))
	assert.NotEqual(t, v1, v2)

	// The latest's re-run costs a HEAD and the tag read.
	e.transport.take()
	_, err := r.Replicate(e.ctx, rec2, nil)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{"HEAD object": 1, "GET tagging": 1}, e.transport.take())
}

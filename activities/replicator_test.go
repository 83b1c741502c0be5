package activities

import (
	"context"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/internal/testlog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func withMeta(in *s3.PutObjectInput) {
	in.ContentType = aws.String("text/plain; charset=utf-8")
	in.CacheControl = aws.String("max-age=60")
	in.ContentDisposition = aws.String(`attachment; filename="a.txt"`)
	in.Metadata = map[string]string{"color": "blue", "owner": "ops team"}
	in.Tagging = aws.String("env=prod&team=storage%20ops")
}

func TestReplicateDataMetadataTagsAndStatus(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	data := []byte("hello, replicated world\n")
	vid := e.put("dir/a file+ü.txt", data, withMeta)
	rec := e.pending()
	require.Equal(t, bbproto.OpPut, rec.Op)
	require.Equal(t, vid, rec.VersionID)

	res, err := r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, Result{Site: "dr", TargetBucket: dstBucket, Action: ActionCopied, Bytes: int64(len(data))}, res)

	src := e.version(e.src, srcBucket, rec.Key, vid)
	got := e.version(e.dst, dstBucket, rec.Key, vid)
	require.NotNil(t, got, "the target holds the source version id")
	assert.Equal(t, vid, got.VersionID)
	assert.True(t, src.LastModified.Equal(got.LastModified), "last-modified kept: %v vs %v", src.LastModified, got.LastModified)
	assert.Equal(t, src.ETag, got.ETag)
	assert.Equal(t, md5hex(data), got.ETag)
	require.NotNil(t, got.Replication)
	assert.Equal(t, bbproto.StatusReplica, got.Replication.Status)
	assert.Equal(t, "text/plain; charset=utf-8", got.Meta.ContentType)
	assert.Equal(t, "max-age=60", got.Meta.CacheControl)
	assert.Equal(t, `attachment; filename="a.txt"`, got.Meta.ContentDisposition)
	assert.Equal(t, map[string]string{"color": "blue", "owner": "ops team"}, got.Meta.UserMetadata)
	assert.Equal(t, map[string]string{"env": "prod", "team": "storage ops"}, got.Meta.Tags)
	assert.Equal(t, md5hex(data), e.md5Of(e.dstC, dstBucket, rec.Key, vid), "data")

	// The plain S3 view of the target says REPLICA.
	head, err := e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String(rec.Key), VersionId: aws.String(vid)})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusReplica, head.ReplicationStatus)

	lm, err := r.SetStatus(e.ctx, srcBucket, rec.Key, vid, bbproto.StatusCompleted, "")
	require.NoError(t, err)
	assert.True(t, lm.Equal(src.LastModified))
	head, err = e.srcC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(srcBucket), Key: aws.String(rec.Key), VersionId: aws.String(vid)})
	require.NoError(t, err)
	assert.Equal(t, string(bbproto.StatusCompleted), string(head.ReplicationStatus))

	// Idempotent: a re-run writes nothing.
	e.transport.take()
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
	assert.Zero(t, res.Bytes)
	assert.Equal(t, map[string]int{"GET version": 1}, e.transport.take(), "only the check reaches the target")
}

func TestReplicateEmptyObjectAndFailedStatus(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	vid := e.put("empty", nil)
	rec := e.pending()
	res, err := r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionCopied, res.Action)
	got := e.version(e.dst, dstBucket, "empty", vid)
	require.NotNil(t, got)
	assert.Zero(t, got.Size)

	_, err = r.SetStatus(e.ctx, srcBucket, "empty", vid, bbproto.StatusFailed, "target on fire")
	require.NoError(t, err)
	src := e.version(e.src, srcBucket, "empty", vid)
	require.NotNil(t, src.Replication)
	assert.Equal(t, bbproto.StatusFailed, src.Replication.Status)
}

func TestReplicateDeleteMarker(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	e.put("doomed", []byte("x"))
	_, err := r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)

	out, err := e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("doomed")})
	require.NoError(t, err)
	require.True(t, aws.ToBool(out.DeleteMarker))
	rec := e.pending()
	require.Equal(t, bbproto.OpDeleteMarker, rec.Op)
	res, err := r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionDeleteMarker, res.Action)

	got := e.version(e.dst, dstBucket, "doomed", aws.ToString(out.VersionId))
	require.NotNil(t, got)
	assert.True(t, got.IsDeleteMarker)
	src := e.version(e.src, srcBucket, "doomed", aws.ToString(out.VersionId))
	assert.True(t, src.LastModified.Equal(got.LastModified))
	_, err = e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("doomed")})
	assert.Error(t, err, "the key's latest version on the target is the delete marker")

	e.transport.take()
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
	assert.Equal(t, map[string]int{"GET version": 1}, e.transport.take())
}

func TestReplicateMetadataOnlyDoesNotCopyData(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	data := pattern(256<<10, 1)
	vid := e.put("k", data, withMeta)
	_, err := r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	before := e.version(e.dst, dstBucket, "k", vid)

	_, err = e.srcC.PutObjectTagging(e.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(srcBucket), Key: aws.String("k"), VersionId: aws.String(vid),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("env"), Value: aws.String("staging")}}}})
	require.NoError(t, err)
	rec := e.pending()
	require.Equal(t, bbproto.OpMetadata, rec.Op)
	require.Equal(t, vid, rec.VersionID)

	e.transport.take()
	res, err := r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionMetadata, res.Action)
	assert.Zero(t, res.Bytes)
	assert.Equal(t, map[string]int{"GET version": 1, "PUT replica": 1}, e.transport.take(), "one metadata-only replica write")
	after := e.version(e.dst, dstBucket, "k", vid)
	assert.Equal(t, map[string]string{"env": "staging"}, after.Meta.Tags)
	assert.Equal(t, before.ETag, after.ETag)
	assert.Equal(t, before.Parts, after.Parts, "the data was not rewritten")
	assert.Equal(t, before.Meta.UserMetadata, after.Meta.UserMetadata)
	assert.Equal(t, before.Meta.ContentType, after.Meta.ContentType)

	// BB-269: the replayed metadata-only entry writes nothing.
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
	assert.Equal(t, map[string]int{"GET version": 1}, e.transport.take())
}

func TestReplicateMetadataOnlyWhenTargetLacksTheVersionCopiesData(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	data := []byte("never replicated before")
	vid := e.put("k", data)
	e.drain() // the put's entry is lost
	_, err := e.srcC.PutObjectTagging(e.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(srcBucket), Key: aws.String("k"), VersionId: aws.String(vid),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	require.NoError(t, err)
	rec := e.pending()
	require.Equal(t, bbproto.OpMetadata, rec.Op)
	res, err := r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionCopied, res.Action)
	got := e.version(e.dst, dstBucket, "k", vid)
	require.NotNil(t, got)
	assert.Equal(t, md5hex(data), got.ETag)
	assert.Equal(t, map[string]string{"a": "b"}, got.Meta.Tags)
}

func TestReplicateMultipartSourceKeepsETag(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	// A multipart source object below the threshold: replicated by parts of the
	// source's sizes, so the target's ETag is the source's.
	done, all := e.putMultipart("mpu", map[string]string{"m": "1"}, 5<<20, 5<<20, 123)
	rec := e.pending()
	p := &recorder{}
	res, err := r.Replicate(e.ctx, rec, p)
	require.NoError(t, err)
	assert.True(t, res.Multipart)
	assert.Equal(t, 3, res.PartsUploaded)
	got := e.version(e.dst, dstBucket, "mpu", aws.ToString(done.VersionId))
	require.NotNil(t, got)
	assert.Equal(t, strings.Trim(aws.ToString(done.ETag), `"`), got.ETag, "same parts, same ETag")
	assert.Equal(t, map[string]string{"m": "1"}, got.Meta.UserMetadata)
	assert.Equal(t, md5hex(all), e.md5Of(e.dstC, dstBucket, "mpu", got.VersionID))
	require.NotNil(t, p.last())
	assert.Len(t, p.last().Parts, 3, "every finished part was saved")

	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
}

// putMultipart writes key on the source by a multipart upload of parts of the given
// sizes; it returns the completed upload and the object's data.
func (e *env) putMultipart(key string, meta map[string]string, sizes ...int) (*s3.CompleteMultipartUploadOutput, []byte) {
	e.t.Helper()
	up, err := e.srcC.CreateMultipartUpload(e.ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(srcBucket), Key: aws.String(key), Metadata: meta})
	require.NoError(e.t, err)
	var parts []s3types.CompletedPart
	var all []byte
	for i, n := range sizes {
		b := pattern(n, byte(i))
		all = append(all, b...)
		out, err := e.srcC.UploadPart(e.ctx, &s3.UploadPartInput{Bucket: aws.String(srcBucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: strings.NewReader(string(b))})
		require.NoError(e.t, err)
		parts = append(parts, s3types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
	}
	done, err := e.srcC.CompleteMultipartUpload(e.ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(srcBucket), Key: aws.String(key),
		UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
	require.NoError(e.t, err)
	return done, all
}

// TestReplicateLargeObjectResumes copies 100 MiB in 16 MiB parts, fails the fourth
// part mid-body, and resumes from the saved checkpoint: the retry uploads only the
// missing parts, and neither attempt holds the object in memory.
func TestReplicateLargeObjectResumes(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication))
	const size = 100 << 20
	data := pattern(size, 7)
	sum := md5hex(data)
	vid := e.put("big", data)
	data = nil
	rec := e.pending()
	runtime.GC()

	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	alloc0 := ms.TotalAlloc

	first := &recorder{}
	e.transport.take()
	e.transport.failAt(4)
	_, err := r.Replicate(e.ctx, rec, first)
	require.Error(t, err)
	assert.Equal(t, contract.KindRetryable, KindOf(err), "a broken connection is retryable: %v", err)
	assert.Nil(t, e.version(e.dst, dstBucket, "big", vid), "no replica before the upload completes")
	cp := first.last()
	require.NotNil(t, cp)
	assert.NotEmpty(t, cp.UploadID)
	assert.Equal(t, 7, cp.PartCount)
	assert.Equal(t, int64(DefaultPartSize), cp.PartSize)
	require.Len(t, cp.Parts, 3, "three parts finished before the failure")
	assert.Equal(t, []int{1, 2, 3}, []int{cp.Parts[0].Number, cp.Parts[1].Number, cp.Parts[2].Number})
	assert.GreaterOrEqual(t, first.alives, 3*16, "Alive every MiB streamed: %s", first)
	assert.Equal(t, 4, e.transport.take()["PUT part"])

	e.transport.failAt(0)
	second := &recorder{resume: cp}
	res, err := r.Replicate(e.ctx, rec, second)
	require.NoError(t, err)
	assert.Equal(t, 3, res.PartsSkipped)
	assert.Equal(t, 4, res.PartsUploaded)
	assert.Equal(t, int64(size-3*DefaultPartSize), res.Bytes)
	counts := e.transport.take()
	assert.Equal(t, 4, counts["PUT part"], "only the missing parts are sent again")
	assert.Equal(t, 0, counts["POST uploads"], "the same upload is resumed")
	assert.Equal(t, 1, counts["GET upload"], "the target's part list confirms the checkpoint")
	assert.Equal(t, cp.UploadID, second.last().UploadID)

	runtime.ReadMemStats(&ms)
	allocated := ms.TotalAlloc - alloc0
	t.Logf("allocated %d KiB while copying %d MiB", allocated>>10, (size+DefaultPartSize)>>20)
	assert.Less(t, allocated, uint64(size/4), "the copy streams: it does not allocate the object's size")

	got := e.version(e.dst, dstBucket, "big", vid)
	require.NotNil(t, got)
	assert.Equal(t, int64(size), got.Size)
	assert.Len(t, got.Parts, 7)
	assert.Equal(t, sum, e.md5Of(e.dstC, dstBucket, "big", vid))

	// Idempotent after the resume too.
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
}

func TestReplicateResumeOfALostUploadStartsOver(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication, func(s *Site) { s.MultipartThreshold, s.PartSize = 10<<20, 5<<20 }))
	data := pattern(12<<20, 3)
	vid := e.put("k", data)
	rec := e.pending()
	stale := &Checkpoint{Site: "dr", Bucket: dstBucket, Key: "k", VersionID: vid, UploadID: "no-such-upload", PartSize: 5 << 20, PartCount: 3,
		Parts: []PartDone{{Number: 1, ETag: "x", Size: 5 << 20}}}
	res, err := r.Replicate(e.ctx, rec, &recorder{resume: stale})
	require.NoError(t, err)
	assert.Equal(t, 3, res.PartsUploaded)
	assert.Zero(t, res.PartsSkipped)
	assert.Equal(t, md5hex(data), e.md5Of(e.dstC, dstBucket, "k", vid))

	// A checkpoint of another layout is ignored (no part list asked).
	other := &Checkpoint{Site: "dr", Bucket: dstBucket, Key: "k", VersionID: "other", UploadID: "u", PartSize: 5 << 20, PartCount: 3}
	vid2 := e.put("k", data)
	e.transport.take()
	res, err = r.Replicate(e.ctx, e.pending(), &recorder{resume: other})
	require.NoError(t, err)
	assert.Equal(t, 3, res.PartsUploaded)
	assert.Zero(t, e.transport.take()["GET upload"])
	assert.NotNil(t, e.version(e.dst, dstBucket, "k", vid2))
}

func TestReplicateErrors(t *testing.T) {
	e := newEnv(t)
	vid := e.put("k", []byte("data"))
	rec := e.pending()

	t.Run("wrong target credentials", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Account{AccessKey: "AKWRONG", SecretKey: "nope"}))
		_, err := r.Replicate(e.ctx, rec, nil)
		require.Error(t, err)
		assert.Equal(t, contract.KindAccessDenied, KindOf(err))
		assert.Contains(t, err.Error(), `site "dr" at `+e.dst.URL)
		assert.Contains(t, err.Error(), "InvalidAccessKeyId")
		assert.Contains(t, err.Error(), "sites file")
	})
	t.Run("target credentials of an ordinary account", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.User))
		_, err := r.Replicate(e.ctx, rec, nil)
		require.Error(t, err)
		assert.Equal(t, contract.KindAccessDenied, KindOf(err))
		assert.Contains(t, err.Error(), `account marked "replication"`)
	})
	t.Run("wrong secret", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Account{AccessKey: s3test.Replication.AccessKey, SecretKey: "wrong"}))
		_, err := r.Replicate(e.ctx, rec, nil)
		assert.Equal(t, contract.KindAccessDenied, KindOf(err))
		assert.Contains(t, err.Error(), "SignatureDoesNotMatch")
	})
	t.Run("missing target bucket", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		bad := rec
		bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::nowhere"}
		_, err := r.Replicate(e.ctx, bad, nil)
		require.Error(t, err)
		assert.Equal(t, contract.KindNoSuchBucket, KindOf(err))
		assert.Contains(t, err.Error(), "target bucket nowhere does not exist at site \"dr\" at "+e.dst.URL+": create it")
	})
	t.Run("unknown site", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		bad := rec
		bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: dstARN, Site: "mars"}
		_, err := r.Replicate(e.ctx, bad, nil)
		assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
		assert.Contains(t, err.Error(), `unknown replication site "mars"`)
	})
	t.Run("bad destination", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		bad := rec
		bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: "target-bucket"}
		_, err := r.Replicate(e.ctx, bad, nil)
		assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
		assert.Contains(t, err.Error(), "not a bucket ARN")
	})
	t.Run("record without replication info", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		bad := rec
		bad.Replication = nil
		_, err := r.Replicate(e.ctx, bad, nil)
		assert.Equal(t, contract.KindInvalidEntry, KindOf(err))
	})
	t.Run("target unversioned", func(t *testing.T) {
		_, err := e.dstC.CreateBucket(e.ctx, &s3.CreateBucketInput{Bucket: aws.String("plain")})
		require.NoError(t, err)
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		bad := rec
		bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::plain"}
		_, err = r.Replicate(e.ctx, bad, nil)
		assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
		assert.Contains(t, err.Error(), "enable versioning")
	})
	t.Run("target down", func(t *testing.T) {
		vid := e.put("k2", []byte("data"))
		rec := e.pending()
		r := e.replicator(&Sites{Sites: []Site{{Name: "dr", Endpoint: "http://127.0.0.1:1", AccessKey: "a", SecretKey: "b"}}})
		_, err := r.Replicate(e.ctx, rec, nil)
		require.Error(t, err)
		assert.Equal(t, contract.KindRetryable, KindOf(err), "%v", err)
		assert.Nil(t, e.version(e.dst, dstBucket, "k2", vid))
	})
	t.Run("target is plain S3 but configured as s3server", func(t *testing.T) {
		// A plain S3 server answers 404 NotFound (or 501) to the privileged routes.
		srv := httptest.NewServer(http.NotFoundHandler())
		defer srv.Close()
		r := e.replicator(&Sites{Sites: []Site{{Name: "dr", Endpoint: srv.URL, AccessKey: "a", SecretKey: "b"}}})
		_, err := r.Replicate(e.ctx, rec, nil)
		assert.Equal(t, contract.KindInvalidConfig, KindOf(err))
		assert.Contains(t, err.Error(), `"kind":"s3"`)
	})
	t.Run("cancelled", func(t *testing.T) {
		vid := e.put("k3", []byte("data"))
		rec := e.pending()
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		ctx, cancel := context.WithCancel(e.ctx)
		cancel()
		_, err := r.Replicate(ctx, rec, nil)
		assert.Equal(t, contract.KindRetryable, KindOf(err))
		assert.Nil(t, e.version(e.dst, dstBucket, "k3", vid))
	})
	t.Run("source version gone", func(t *testing.T) {
		r := e.replicator(e.sites(KindS3Server, s3test.Replication))
		_, err := e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("k"), VersionId: aws.String(vid)})
		require.NoError(t, err)
		_, err = r.Replicate(e.ctx, rec, nil)
		assert.Equal(t, contract.KindSourceGone, KindOf(err))
		assert.Contains(t, err.Error(), "source version no longer exists")
		_, err = r.SetStatus(e.ctx, srcBucket, "k", vid, bbproto.StatusCompleted, "")
		assert.Equal(t, contract.KindSourceGone, KindOf(err))
	})
}

func TestReplicatePlainS3Target(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3, s3test.User, func(s *Site) { s.MultipartThreshold, s.PartSize = 8<<20, 5<<20 }))
	small := []byte("small object")
	vid := e.put("small", small, withMeta)
	rec := e.pending()
	res, err := r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionCopied, res.Action)
	assert.False(t, res.Multipart)
	head, err := e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("small")})
	require.NoError(t, err)
	assert.Equal(t, vid, head.Metadata[MetaSourceVersionID])
	assert.Equal(t, "blue", head.Metadata["color"])
	assert.Equal(t, "ops team", head.Metadata["owner"])
	assert.Equal(t, "text/plain; charset=utf-8", aws.ToString(head.ContentType))
	assert.Equal(t, "max-age=60", aws.ToString(head.CacheControl))
	assert.Equal(t, aws.Int32(2), head.TagCount)
	assert.Equal(t, md5hex(small), e.md5Of(e.dstC, dstBucket, "small", ""))
	targetVersion := aws.ToString(head.VersionId)

	// Idempotent: only a HEAD and the tag read.
	e.transport.take()
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
	assert.Equal(t, map[string]int{"HEAD object": 1, "GET tagging": 1}, e.transport.take())

	// Metadata-only: tags by PutObjectTagging on the same target version.
	_, err = e.srcC.PutObjectTagging(e.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(srcBucket), Key: aws.String("small"), VersionId: aws.String(vid),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("env"), Value: aws.String("dev")}}}})
	require.NoError(t, err)
	res, err = r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	assert.Equal(t, ActionMetadata, res.Action)
	counts := e.transport.take()
	assert.Equal(t, 1, counts["PUT tagging"])
	assert.Zero(t, counts["PUT object"], "no data written")
	tags, err := e.dstC.GetObjectTagging(e.ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(dstBucket), Key: aws.String("small")})
	require.NoError(t, err)
	assert.Equal(t, targetVersion, aws.ToString(tags.VersionId))
	require.Len(t, tags.TagSet, 1)
	assert.Equal(t, "dev", aws.ToString(tags.TagSet[0].Value))

	// Metadata that differs on the target (changed there by hand): a self-copy restores it.
	_, err = e.dstC.CopyObject(e.ctx, &s3.CopyObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("small"),
		CopySource: aws.String(dstBucket + "/small"), MetadataDirective: s3types.MetadataDirectiveReplace,
		Metadata: map[string]string{MetaSourceVersionID: vid, "color": "red"}})
	require.NoError(t, err)
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionMetadata, res.Action)
	head, err = e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("small")})
	require.NoError(t, err)
	assert.Equal(t, "blue", head.Metadata["color"])
	assert.Equal(t, "text/plain; charset=utf-8", aws.ToString(head.ContentType))

	// Multipart above the threshold, with resume.
	big := pattern(12<<20, 9)
	vidBig := e.put("big", big)
	recBig := e.pending()
	e.transport.take()
	e.transport.failAt(2)
	p := &recorder{}
	_, err = r.Replicate(e.ctx, recBig, p)
	require.Error(t, err)
	assert.Equal(t, contract.KindRetryable, KindOf(err))
	require.NotNil(t, p.last())
	require.Len(t, p.last().Parts, 1)
	e.transport.failAt(0)
	res, err = r.Replicate(e.ctx, recBig, &recorder{resume: p.last()})
	require.NoError(t, err)
	assert.True(t, res.Multipart)
	assert.Equal(t, 1, res.PartsSkipped)
	assert.Equal(t, 2, res.PartsUploaded)
	counts = e.transport.take()
	assert.Equal(t, 2+2, counts["PUT part"], "two parts in the first attempt (one failed), two in the second")
	head, err = e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("big")})
	require.NoError(t, err)
	assert.Equal(t, vidBig, head.Metadata[MetaSourceVersionID])
	assert.Equal(t, md5hex(big), e.md5Of(e.dstC, dstBucket, "big", ""))

	// Delete marker.
	_, err = e.srcC.DeleteObject(e.ctx, &s3.DeleteObjectInput{Bucket: aws.String(srcBucket), Key: aws.String("big")})
	require.NoError(t, err)
	dm := e.pending()
	res, err = r.Replicate(e.ctx, dm, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionDeleteMarker, res.Action)
	_, err = e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("big")})
	assert.Error(t, err)
	res, err = r.Replicate(e.ctx, dm, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)

	// A replay of an older version never replaces a newer one: the target holds it
	// below the newer one.
	newer := e.put("small", []byte("newer"))
	_, err = r.Replicate(e.ctx, e.pending(), nil)
	require.NoError(t, err)
	e.transport.take()
	res, err = r.Replicate(e.ctx, rec, nil)
	require.NoError(t, err)
	assert.Equal(t, ActionAlreadyPresent, res.Action)
	counts = e.transport.take()
	assert.Zero(t, counts["PUT object"])
	assert.Equal(t, 1, counts["GET object"], "one listing of the target versions")
	head, err = e.dstC.HeadObject(e.ctx, &s3.HeadObjectInput{Bucket: aws.String(dstBucket), Key: aws.String("small")})
	require.NoError(t, err)
	assert.Equal(t, newer, head.Metadata[MetaSourceVersionID])
}

func TestReplicatePlainS3Errors(t *testing.T) {
	e := newEnv(t)
	e.put("k", []byte("data"))
	rec := e.pending()
	r := e.replicator(e.sites(KindS3, s3test.Account{AccessKey: "AKWRONG", SecretKey: "x"}))
	_, err := r.Replicate(e.ctx, rec, nil)
	assert.Equal(t, contract.KindAccessDenied, KindOf(err), "%v", err)
	assert.NotContains(t, err.Error(), `account marked "replication"`)

	r = e.replicator(e.sites(KindS3, s3test.User))
	bad := rec
	bad.Replication = &bbproto.Replication{Status: bbproto.StatusPending, Destination: "arn:aws:s3:::nowhere"}
	_, err = r.Replicate(e.ctx, bad, nil)
	assert.Equal(t, contract.KindNoSuchBucket, KindOf(err), "%v", err)
	assert.Contains(t, err.Error(), "target bucket nowhere does not exist")
}

func TestReplicateSourceCredentials(t *testing.T) {
	e := newEnv(t)
	e.put("k", []byte("data"))
	rec := e.pending()
	r, err := New(e.ctx, Config{Source: Site{Endpoint: e.src.URL, AccessKey: s3test.User.AccessKey, SecretKey: s3test.User.SecretKey},
		Sites: e.sites(KindS3Server, s3test.Replication), Logger: testlog.Discard()})
	require.NoError(t, err)
	_, err = r.Replicate(e.ctx, rec, nil)
	assert.Equal(t, contract.KindAccessDenied, KindOf(err))
	assert.Contains(t, err.Error(), "source s3server at "+e.src.URL)
}

// TestReplicateConcurrentParts copies the parts of one object PartConcurrency at once;
// a part that fails stops new parts, the parts in flight finish and are saved, and the
// retry sends only the parts that are missing. The replica is the source, byte for byte.
func TestReplicateConcurrentParts(t *testing.T) {
	e := newEnv(t)
	r := e.replicator(e.sites(KindS3Server, s3test.Replication, func(s *Site) {
		s.MultipartThreshold, s.PartSize, s.PartConcurrency = 10<<20, 5<<20, 4
	}))
	data := pattern(40<<20, 3) // 8 parts
	sum := md5hex(data)
	vid := e.put("parallel", data)
	rec := e.pending()

	e.transport.take()
	e.transport.failAt(3)
	first := &recorder{}
	_, err := r.Replicate(e.ctx, rec, first)
	require.Error(t, err)
	assert.Equal(t, contract.KindRetryable, KindOf(err), "a broken connection is retryable: %v", err)
	cp := first.last()
	require.NotNil(t, cp)
	sentFirst := e.transport.take()["PUT part"]
	assert.Less(t, sentFirst, 8, "no part starts after the failure")
	assert.Len(t, cp.Parts, sentFirst-1, "every part in flight but the failed one finished and was saved")
	assert.Greater(t, e.transport.maxPartsAtOnce(), 1, "parts of one object went at once")

	e.transport.failAt(0)
	res, err := r.Replicate(e.ctx, rec, &recorder{resume: cp})
	require.NoError(t, err)
	assert.True(t, res.Multipart)
	assert.Equal(t, len(cp.Parts), res.PartsSkipped)
	assert.Equal(t, 8-len(cp.Parts), res.PartsUploaded)
	assert.Equal(t, 8-len(cp.Parts), e.transport.take()["PUT part"], "only the missing parts are sent again")
	assert.LessOrEqual(t, e.transport.maxPartsAtOnce(), 4, "at most PartConcurrency parts at once")
	assert.Equal(t, sum, e.md5Of(e.dstC, dstBucket, "parallel", vid))
}

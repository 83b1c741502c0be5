package s3server

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCopyObjectDirectives(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("src", true)
	h.mkBucket("dst", true)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("a b+c/ü.txt"), Body: strings.NewReader("payload"),
		ContentType: aws.String("text/plain"), Metadata: map[string]string{"m": "1"}, Tagging: aws.String("t=1")})
	require.NoError(t, err)

	// COPY (default): data, ETag, metadata and tags of the source; URL-encoded source key.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy"),
		CopySource: aws.String("src/" + url.PathEscape("a b+c/ü.txt"))})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(put.ETag), aws.ToString(cp.CopyObjectResult.ETag))
	assert.WithinDuration(t, time.Now(), aws.ToTime(cp.CopyObjectResult.LastModified), time.Minute)
	assert.NotEmpty(t, aws.ToString(cp.VersionId))
	assert.Equal(t, aws.ToString(put.VersionId), aws.ToString(cp.CopySourceVersionId))
	body, out := getString(t, c, "dst", "copy", "")
	assert.Equal(t, "payload", body)
	assert.Equal(t, aws.ToString(cp.VersionId), aws.ToString(out.VersionId))
	assert.Equal(t, "text/plain", aws.ToString(out.ContentType))
	assert.Equal(t, map[string]string{"m": "1"}, out.Metadata)
	assert.Equal(t, int32(1), aws.ToInt32(out.TagCount))

	// Metadata sent with COPY is ignored; REPLACE takes the request's.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy2"), CopySource: aws.String("/src/" + url.PathEscape("a b+c/ü.txt")),
		Metadata: map[string]string{"ignored": "x"}})
	require.NoError(t, err)
	_, out = getString(t, c, "dst", "copy2", "")
	assert.Equal(t, map[string]string{"m": "1"}, out.Metadata)
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy3"), CopySource: aws.String("src/" + url.PathEscape("a b+c/ü.txt")),
		MetadataDirective: s3types.MetadataDirectiveReplace, Metadata: map[string]string{"new": "2"}, ContentType: aws.String("application/json"),
		TaggingDirective: s3types.TaggingDirectiveReplace, Tagging: aws.String("x=1&y=2")})
	require.NoError(t, err)
	body, out = getString(t, c, "dst", "copy3", "")
	assert.Equal(t, "payload", body)
	assert.Equal(t, map[string]string{"new": "2"}, out.Metadata)
	assert.Equal(t, "application/json", aws.ToString(out.ContentType))
	tg, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("dst"), Key: aws.String("copy3")})
	require.NoError(t, err)
	assert.Len(t, tg.TagSet, 2)
	// REPLACE metadata keeps the source tags unless tagging is replaced too.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("copy4"), CopySource: aws.String("src/" + url.PathEscape("a b+c/ü.txt")),
		MetadataDirective: s3types.MetadataDirectiveReplace})
	require.NoError(t, err)
	_, out = getString(t, c, "dst", "copy4", "")
	assert.Empty(t, out.Metadata)
	assert.Equal(t, int32(1), aws.ToInt32(out.TagCount))

	r := objDo(t, h, testUser, http.MethodPut, "/dst/bad", nil, map[string]string{"x-amz-copy-source": "src/x", "x-amz-metadata-directive": "MOVE"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "Unknown metadata directive.")
	r = objDo(t, h, testUser, http.MethodPut, "/dst/bad", nil, map[string]string{"x-amz-copy-source": "src/x", "x-amz-tagging-directive": "MOVE"})
	assert.Contains(t, r.Body, "Unknown tagging directive.")
	for _, src := range []string{"src", "/src/", "nokey"} {
		r = objDo(t, h, testUser, http.MethodPut, "/dst/bad", nil, map[string]string{"x-amz-copy-source": src})
		assert.Equal(t, http.StatusBadRequest, r.Status, src)
		assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>", src)
	}

	// The copy keeps its data when the source goes away (linked blobs, not shared ones).
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("a b+c/ü.txt"), VersionId: put.VersionId})
	require.NoError(t, err)
	body, _ = getString(t, c, "dst", "copy", "")
	assert.Equal(t, "payload", body)
}

func TestCopyObjectOntoItself(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("self", true)
	v1 := putString(t, c, "self", "k", "one")
	putString(t, c, "self", "k", "two")

	_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("self"), Key: aws.String("k"), CopySource: aws.String("self/k")})
	assert.Equal(t, "InvalidRequest", apiCode(err))
	assert.Contains(t, err.Error(), "copy an object to itself")

	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("self"), Key: aws.String("k"), CopySource: aws.String("self/k"),
		MetadataDirective: s3types.MetadataDirectiveReplace, Metadata: map[string]string{"n": "1"}})
	require.NoError(t, err)
	body, out := getString(t, c, "self", "k", "")
	assert.Equal(t, "two", body)
	assert.Equal(t, "1", out.Metadata["n"])

	// Naming a version restores it as the current one.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("self"), Key: aws.String("k"),
		CopySource: aws.String("self/k?versionId=" + aws.ToString(v1.VersionId))})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(v1.VersionId), aws.ToString(cp.CopySourceVersionId))
	body, _ = getString(t, c, "self", "k", "")
	assert.Equal(t, "one", body)

	// Changing the storage class is a change.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("self"), Key: aws.String("k"), CopySource: aws.String("self/k"),
		StorageClass: s3types.StorageClassStandardIa})
	require.NoError(t, err)
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("self"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Equal(t, s3types.StorageClassStandardIa, hd.StorageClass)
}

func TestCopyObjectSourceErrors(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("src", true)
	h.mkBucket("dst", false)
	v1 := putString(t, c, "src", "k", "data")
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("gone")})
	require.NoError(t, err)

	cases := []struct{ src, code string }{
		{"nobucket/k", "NoSuchBucket"},
		{"src/missing", "NoSuchKey"},
		{"src/gone", "NoSuchKey"},
		{"src/k?versionId=" + strings.Repeat("0", 32), "NoSuchVersion"},
		{"src/gone?versionId=" + aws.ToString(del.VersionId), "InvalidRequest"},
		{"src/k?versionId=", "InvalidArgument"},
	}
	for _, tc := range cases {
		_, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String(tc.src)})
		assert.Equal(t, tc.code, apiCode(err), tc.src)
	}
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("nodst"), Key: aws.String("x"), CopySource: aws.String("src/k")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))

	// An unversioned destination shows no version id; the versioned source shows its own.
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("x"), CopySource: aws.String("src/k")})
	require.NoError(t, err)
	assert.Nil(t, cp.VersionId)
	assert.Equal(t, aws.ToString(v1.VersionId), aws.ToString(cp.CopySourceVersionId))
	// And the other way round.
	cp, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("y"), CopySource: aws.String("dst/x")})
	require.NoError(t, err)
	assert.NotEmpty(t, aws.ToString(cp.VersionId))
	assert.Nil(t, cp.CopySourceVersionId)
}

func TestCopyObjectConditions(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("cnd", false)
	put := putString(t, c, "cnd", "k", "data")
	etag := aws.ToString(put.ETag)
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cnd"), Key: aws.String("k")})
	require.NoError(t, err)
	lm := aws.ToTime(hd.LastModified)
	past, future := lm.Add(-time.Hour), lm.Add(time.Hour)

	cases := []struct {
		name string
		in   s3.CopyObjectInput
		ok   bool
	}{
		{"if-match ok", s3.CopyObjectInput{CopySourceIfMatch: aws.String(etag)}, true},
		{"if-match fails", s3.CopyObjectInput{CopySourceIfMatch: aws.String(`"nope"`)}, false},
		{"if-none-match matches", s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(etag)}, false},
		{"if-none-match differs", s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(`"nope"`)}, true},
		{"if-modified-since past", s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(past)}, true},
		{"if-modified-since future", s3.CopyObjectInput{CopySourceIfModifiedSince: aws.Time(future)}, false},
		{"if-unmodified-since future", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(future)}, true},
		{"if-unmodified-since past", s3.CopyObjectInput{CopySourceIfUnmodifiedSince: aws.Time(past)}, false},
		{"if-match true, if-unmodified-since false", s3.CopyObjectInput{CopySourceIfMatch: aws.String(etag), CopySourceIfUnmodifiedSince: aws.Time(past)}, true},
		{"if-none-match false, if-modified-since true", s3.CopyObjectInput{CopySourceIfNoneMatch: aws.String(etag), CopySourceIfModifiedSince: aws.Time(past)}, false},
	}
	for i, tc := range cases {
		in := tc.in
		in.Bucket, in.Key, in.CopySource = aws.String("cnd"), aws.String("dst"+string(rune('a'+i))), aws.String("cnd/k")
		_, err := c.CopyObject(ctx, &in)
		if tc.ok {
			assert.NoError(t, err, tc.name)
			continue
		}
		assert.Equal(t, "PreconditionFailed", apiCode(err), tc.name)
		_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cnd"), Key: in.Key})
		assert.Equal(t, "NotFound", apiCode(err), "%s: nothing copied", tc.name)
	}
}

func TestCopyObjectMultipartSource(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("mps", false)
	data, etag := uploadParts(t, c, "mps", "big", partSize, partSize, 10)
	cp, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("mps"), Key: aws.String("big-copy"), CopySource: aws.String("mps/big")})
	require.NoError(t, err)
	assert.Equal(t, etag, aws.ToString(cp.CopyObjectResult.ETag))
	got, _ := getString(t, c, "mps", "big-copy", "")
	assert.True(t, got == string(data), "copied data differs")
	part, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mps"), Key: aws.String("big-copy"), PartNumber: aws.Int32(3)})
	require.NoError(t, err)
	part.Body.Close()
	assert.Equal(t, int64(10), aws.ToInt64(part.ContentLength))
	assert.Equal(t, int32(3), aws.ToInt32(part.PartsCount))
}

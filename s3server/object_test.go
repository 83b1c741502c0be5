package s3server

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"hash/crc32"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// objResp is the answer to a raw signed request.
type objResp struct {
	Status int
	Header http.Header
	Body   string
}

// objDo sends a request signed as acct (path is the escaped path and query) with an
// arbitrary body and headers, what the SDK cannot express.
func objDo(t *testing.T, h *harness, acct Account, method, path string, body []byte, header map[string]string) objResp {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+path, bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	require.NoError(t, sign(req, acct, payloadHash(body)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return objResp{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

// putString writes key with body through the SDK and returns the answer.
func putString(t *testing.T, c *s3.Client, bucket, key, body string) *s3.PutObjectOutput {
	t.Helper()
	out, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	require.NoError(t, err)
	return out
}

// getString reads key (versionID "" = latest) through the SDK.
func getString(t *testing.T, c *s3.Client, bucket, key, versionID string) (string, *s3.GetObjectOutput) {
	t.Helper()
	in := &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
	if versionID != "" {
		in.VersionId = aws.String(versionID)
	}
	out, err := c.GetObject(context.Background(), in)
	require.NoError(t, err)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return string(data), out
}

// quoted is an ETag as S3 shows it in headers.
func quoted(etag string) string { return `"` + etag + `"` }

func TestObjectPutGetHead(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("plain", false)

	put, err := c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String("plain"), Key: aws.String("dir/hello.txt"), Body: strings.NewReader("hello world"),
		ContentType: aws.String("text/plain"), ContentLanguage: aws.String("en"), CacheControl: aws.String("max-age=60"),
		ContentDisposition: aws.String(`attachment; filename="h.txt"`), ContentEncoding: aws.String("identity"),
		Metadata: map[string]string{"Color": "blue", "shape": "round"}, Tagging: aws.String("a=1&b=two"),
	})
	require.NoError(t, err)
	assert.Equal(t, quoted(bodyETag("hello world")), aws.ToString(put.ETag))
	assert.Nil(t, put.VersionId, "an unversioned bucket shows no version id")

	body, out := getString(t, c, "plain", "dir/hello.txt", "")
	assert.Equal(t, "hello world", body)
	assert.Equal(t, quoted(bodyETag("hello world")), aws.ToString(out.ETag))
	assert.Equal(t, "text/plain", aws.ToString(out.ContentType))
	assert.Equal(t, "en", aws.ToString(out.ContentLanguage))
	assert.Equal(t, "max-age=60", aws.ToString(out.CacheControl))
	assert.Equal(t, `attachment; filename="h.txt"`, aws.ToString(out.ContentDisposition))
	assert.Equal(t, "identity", aws.ToString(out.ContentEncoding))
	assert.Equal(t, map[string]string{"color": "blue", "shape": "round"}, out.Metadata)
	assert.Equal(t, int32(2), aws.ToInt32(out.TagCount))
	assert.Equal(t, int64(11), aws.ToInt64(out.ContentLength))
	assert.Nil(t, out.VersionId)
	assert.WithinDuration(t, time.Now(), aws.ToTime(out.LastModified), time.Minute)

	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("plain"), Key: aws.String("dir/hello.txt")})
	require.NoError(t, err)
	assert.Equal(t, int64(11), aws.ToInt64(hd.ContentLength))
	assert.Equal(t, "text/plain", aws.ToString(hd.ContentType))
	assert.Equal(t, "blue", hd.Metadata["color"])
	assert.Equal(t, "bytes", aws.ToString(hd.AcceptRanges))
	assert.Empty(t, hd.ReplicationStatus, "no replication configuration")

	// Defaults and overwrite of the null version.
	r := objDo(t, h, testUser, http.MethodPut, "/plain/dir/hello.txt", []byte("second"), nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	body, out = getString(t, c, "plain", "dir/hello.txt", "")
	assert.Equal(t, "second", body)
	assert.Equal(t, "binary/octet-stream", aws.ToString(out.ContentType))
	assert.Empty(t, out.Metadata)

	// An empty object.
	putString(t, c, "plain", "empty", "")
	body, out = getString(t, c, "plain", "empty", "")
	assert.Equal(t, "", body)
	assert.Equal(t, quoted(bodyETag("")), aws.ToString(out.ETag))

	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("plain"), Key: aws.String("missing")})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("plain"), Key: aws.String("missing")})
	assert.Equal(t, "NotFound", apiCode(err))
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))

	// The HEAD of a missing key has no body; the GET's error names the key's path.
	r = objDo(t, h, testUser, http.MethodHead, "/plain/missing", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Empty(t, r.Body)
	r = objDo(t, h, testUser, http.MethodGet, "/plain/missing", nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Contains(t, r.Body, "<Code>NoSuchKey</Code>")
}

func TestObjectKeys(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("keys", false)
	for _, k := range []string{"a b+c", "../up/../x", "q?x=1&y", "ünï/cödé", "trailing/", "%41", strings.Repeat("k", maxKeyLength)} {
		putString(t, c, "keys", k, "v:"+k)
		body, _ := getString(t, c, "keys", k, "")
		assert.Equal(t, "v:"+k, body, "key %q", k)
	}
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keys"), Key: aws.String(strings.Repeat("k", maxKeyLength+1)), Body: strings.NewReader("x")})
	assert.Equal(t, "KeyTooLongError", apiCode(err))
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("keys"), Key: aws.String(strings.Repeat("k", maxKeyLength+1))})
	assert.Equal(t, "KeyTooLongError", apiCode(err))
	cut := "cut-" + "é"[:1]
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("keys"), Key: aws.String(cut), Body: strings.NewReader("x")})
	assert.Equal(t, "InvalidURI", apiCode(err), "a key that is not UTF-8")
	_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("keys"), Key: aws.String(cut)})
	assert.Equal(t, "InvalidURI", apiCode(err), "a key that is not UTF-8")
	// "%41" is the key "%41", not "A".
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("keys"), Key: aws.String("A")})
	assert.Equal(t, "NotFound", apiCode(err))
}

func TestObjectContentMD5AndChecksums(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("sums", false)
	sum := md5.Sum([]byte("payload"))
	good := base64.StdEncoding.EncodeToString(sum[:])

	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("k"), Body: strings.NewReader("payload"), ContentMD5: aws.String(good)})
	require.NoError(t, err)
	other := md5.Sum([]byte("other"))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad"), Body: strings.NewReader("payload"),
		ContentMD5: aws.String(base64.StdEncoding.EncodeToString(other[:]))})
	assert.Equal(t, "BadDigest", apiCode(err))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad"), Body: strings.NewReader("payload"), ContentMD5: aws.String("nope")})
	assert.Equal(t, "InvalidDigest", apiCode(err))
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("sums"), Key: aws.String("bad")})
	assert.Equal(t, "NotFound", apiCode(err), "a refused body leaves no object")

	// Flexible checksums: verified, stored, echoed, and returned with checksum mode.
	crc := crc32.ChecksumIEEE([]byte("payload"))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc)
	want := base64.StdEncoding.EncodeToString(b[:])
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("sums"), Key: aws.String("crc"), Body: strings.NewReader("payload"), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
	require.NoError(t, err)
	assert.Equal(t, want, aws.ToString(put.ChecksumCRC32))
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("sums"), Key: aws.String("crc"), ChecksumMode: s3types.ChecksumModeEnabled})
	require.NoError(t, err)
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "payload", string(data))
	assert.Equal(t, want, aws.ToString(got.ChecksumCRC32))

	// A wrong checksum header is BadDigest, a malformed one InvalidRequest.
	r := objDo(t, h, testUser, http.MethodPut, "/sums/crc-bad", []byte("payload"), map[string]string{"x-amz-checksum-crc32": "AAAAAA=="})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "<Code>BadDigest</Code>")
	r = objDo(t, h, testUser, http.MethodPut, "/sums/crc-bad", []byte("payload"), map[string]string{"x-amz-checksum-sha256": "short"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "<Code>InvalidRequest</Code>")
	r = objDo(t, h, testUser, http.MethodPut, "/sums/crc-ok", []byte("payload"), map[string]string{"x-amz-checksum-crc32": want})
	assert.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Equal(t, want, r.Header.Get("x-amz-checksum-crc32"))

	// Unsupported write options are refused, not ignored.
	r = objDo(t, h, testUser, http.MethodPut, "/sums/kms", []byte("x"), map[string]string{"x-amz-server-side-encryption": "aws:kms"})
	assert.Equal(t, http.StatusNotImplemented, r.Status)
	r = objDo(t, h, testUser, http.MethodPut, "/sums/lock", []byte("x"), map[string]string{"x-amz-object-lock-mode": "GOVERNANCE"})
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "Object Lock")
	// Bad metadata headers are refused before the body is stored.
	r = objDo(t, h, testUser, http.MethodPut, "/sums/meta", []byte("x"), map[string]string{"x-amz-meta-big": strings.Repeat("v", 3000)})
	assert.Contains(t, r.Body, "<Code>MetadataTooLarge</Code>")
	r = objDo(t, h, testUser, http.MethodPut, "/sums/meta", []byte("x"), map[string]string{"x-amz-storage-class": "FANCY"})
	assert.Contains(t, r.Body, "<Code>InvalidStorageClass</Code>")
}

func TestObjectVersions(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("ver", true)

	v1 := putString(t, c, "ver", "k", "one")
	v2 := putString(t, c, "ver", "k", "two")
	require.NotEmpty(t, aws.ToString(v1.VersionId))
	require.NotEmpty(t, aws.ToString(v2.VersionId))
	assert.NotEqual(t, aws.ToString(v1.VersionId), aws.ToString(v2.VersionId))

	body, out := getString(t, c, "ver", "k", "")
	assert.Equal(t, "two", body)
	assert.Equal(t, aws.ToString(v2.VersionId), aws.ToString(out.VersionId))
	body, out = getString(t, c, "ver", "k", aws.ToString(v1.VersionId))
	assert.Equal(t, "one", body)
	assert.Equal(t, aws.ToString(v1.VersionId), aws.ToString(out.VersionId))
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: v1.VersionId})
	require.NoError(t, err)
	assert.Equal(t, int64(3), aws.ToInt64(hd.ContentLength))
	assert.Equal(t, aws.ToString(v1.VersionId), aws.ToString(hd.VersionId))

	missing := strings.Repeat("0", 32)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(missing)})
	assert.Equal(t, "NoSuchVersion", apiCode(err))
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("nokey"), VersionId: aws.String(missing)})
	assert.Equal(t, "NoSuchVersion", apiCode(err))
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String("bad id!")})
	assert.Equal(t, "InvalidArgument", apiCode(err))
	r := objDo(t, h, testUser, http.MethodGet, "/ver/k?versionId=", nil, nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "Version id cannot be the empty string")
	r = objDo(t, h, testUser, http.MethodDelete, "/ver/k?versionId=%25bad", nil, nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "Invalid version id specified")

	// Deleting a version makes the previous one current.
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: v2.VersionId})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(v2.VersionId), aws.ToString(del.VersionId))
	assert.False(t, aws.ToBool(del.DeleteMarker))
	body, _ = getString(t, c, "ver", "k", "")
	assert.Equal(t, "one", body)
	// Deleting a missing version is a success without effect, as S3.
	del, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("ver"), Key: aws.String("k"), VersionId: aws.String(missing)})
	require.NoError(t, err)
	assert.False(t, aws.ToBool(del.DeleteMarker))
	body, _ = getString(t, c, "ver", "k", "")
	assert.Equal(t, "one", body)
}

func TestObjectDeleteMarkers(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("dmark", true)
	v1 := putString(t, c, "dmark", "k", "data")

	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("dmark"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.True(t, aws.ToBool(del.DeleteMarker))
	marker := aws.ToString(del.VersionId)
	require.NotEmpty(t, marker)
	assert.NotEqual(t, aws.ToString(v1.VersionId), marker)

	// GET/HEAD of the latest: 404 NoSuchKey with the marker's headers.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r := objDo(t, h, testUser, m, "/dmark/k", nil, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, m)
		assert.Equal(t, "true", r.Header.Get("x-amz-delete-marker"), m)
		assert.Equal(t, marker, r.Header.Get("x-amz-version-id"), m)
		assert.NotEmpty(t, r.Header.Get("Last-Modified"), m)
		if m == http.MethodGet {
			assert.Contains(t, r.Body, "<Code>NoSuchKey</Code>")
		}
	}
	// GET/HEAD of the marker by id: 405 MethodNotAllowed.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		r := objDo(t, h, testUser, m, "/dmark/k?versionId="+marker, nil, nil)
		assert.Equal(t, http.StatusMethodNotAllowed, r.Status, m)
		assert.Equal(t, "true", r.Header.Get("x-amz-delete-marker"), m)
		assert.Equal(t, marker, r.Header.Get("x-amz-version-id"), m)
		if m == http.MethodGet {
			assert.Contains(t, r.Body, "<Code>MethodNotAllowed</Code>")
		}
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dmark"), Key: aws.String("k")})
	assert.Equal(t, "NotFound", apiCode(err))
	body, _ := getString(t, c, "dmark", "k", aws.ToString(v1.VersionId))
	assert.Equal(t, "data", body, "the old version is still readable by id")

	// A key that never existed gets a delete marker too.
	del, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("dmark"), Key: aws.String("never")})
	require.NoError(t, err)
	assert.True(t, aws.ToBool(del.DeleteMarker))
	require.NotEmpty(t, aws.ToString(del.VersionId))
	lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("dmark"), Prefix: aws.String("never")})
	require.NoError(t, err)
	require.Len(t, lv.DeleteMarkers, 1)
	assert.Equal(t, aws.ToString(del.VersionId), aws.ToString(lv.DeleteMarkers[0].VersionId))
	assert.Empty(t, lv.Versions)

	// Removing the marker by id brings the object back.
	del, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("dmark"), Key: aws.String("k"), VersionId: aws.String(marker)})
	require.NoError(t, err)
	assert.True(t, aws.ToBool(del.DeleteMarker), "the removed version was a delete marker")
	assert.Equal(t, marker, aws.ToString(del.VersionId))
	body, _ = getString(t, c, "dmark", "k", "")
	assert.Equal(t, "data", body)
}

func TestObjectUnversionedAndSuspendedDelete(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("plain", false)
	putString(t, c, "plain", "k", "data")
	r := objDo(t, h, testUser, http.MethodDelete, "/plain/k", nil, nil)
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.Empty(t, r.Header.Get("x-amz-delete-marker"))
	assert.Empty(t, r.Header.Get("x-amz-version-id"))
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	r = objDo(t, h, testUser, http.MethodDelete, "/plain/k", nil, nil)
	assert.Equal(t, http.StatusNoContent, r.Status, "deleting a missing key succeeds")

	// Suspended: the null version; PUT shows no version id, GET shows "null", DELETE
	// makes a null delete marker.
	h.mkBucket("susp", true)
	v1 := putString(t, c, "susp", "k", "versioned")
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("susp"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	require.NoError(t, err)
	put := putString(t, c, "susp", "k", "null one")
	assert.Nil(t, put.VersionId)
	body, out := getString(t, c, "susp", "k", "")
	assert.Equal(t, "null one", body)
	assert.Equal(t, "null", aws.ToString(out.VersionId))
	body, _ = getString(t, c, "susp", "k", "null")
	assert.Equal(t, "null one", body)
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("susp"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.True(t, aws.ToBool(del.DeleteMarker))
	assert.Equal(t, "null", aws.ToString(del.VersionId))
	body, _ = getString(t, c, "susp", "k", aws.ToString(v1.VersionId))
	assert.Equal(t, "versioned", body, "the Enabled-era version survives")
}

func TestObjectRange(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("rng", false)
	const data = "0123456789abcdefghij" // 20 bytes
	putString(t, c, "rng", "k", data)
	putString(t, c, "rng", "empty", "")

	cases := []struct {
		rng, want, contentRange string
	}{
		{"bytes=0-3", "0123", "bytes 0-3/20"},
		{"bytes=4-", data[4:], "bytes 4-19/20"},
		{"bytes=-3", "hij", "bytes 17-19/20"},
		{"bytes=15-100", data[15:], "bytes 15-19/20"},
		{"bytes=-100", data, "bytes 0-19/20"},
		{"bytes=19-19", "j", "bytes 19-19/20"},
	}
	for _, tc := range cases {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rng"), Key: aws.String("k"), Range: aws.String(tc.rng)})
		require.NoError(t, err, tc.rng)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got), tc.rng)
		assert.Equal(t, tc.contentRange, aws.ToString(out.ContentRange), tc.rng)
		assert.Equal(t, int64(len(tc.want)), aws.ToInt64(out.ContentLength), tc.rng)
		assert.Empty(t, aws.ToString(out.ChecksumCRC32), "no full-object checksum on a range")
	}
	r := objDo(t, h, testUser, http.MethodGet, "/rng/k", nil, map[string]string{"Range": "bytes=2-5"})
	assert.Equal(t, http.StatusPartialContent, r.Status)
	assert.Equal(t, "2345", r.Body)

	// Unsatisfiable: 416 InvalidRange with Content-Range bytes */size.
	for _, rg := range []string{"bytes=20-", "bytes=40-50", "bytes=-0"} {
		r := objDo(t, h, testUser, http.MethodGet, "/rng/k", nil, map[string]string{"Range": rg})
		assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status, rg)
		assert.Contains(t, r.Body, "<Code>InvalidRange</Code>", rg)
		assert.Equal(t, "bytes */20", r.Header.Get("Content-Range"), rg)
	}
	r = objDo(t, h, testUser, http.MethodGet, "/rng/empty", nil, map[string]string{"Range": "bytes=0-"})
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status)
	assert.Equal(t, "bytes */0", r.Header.Get("Content-Range"))

	// Malformed or multiple ranges are ignored: the whole object, 200.
	for _, rg := range []string{"bytes=0-1,4-5", "bytes=5-2", "bytes=a-b", "items=0-1", "bytes=1"} {
		r := objDo(t, h, testUser, http.MethodGet, "/rng/k", nil, map[string]string{"Range": rg})
		assert.Equal(t, http.StatusOK, r.Status, rg)
		assert.Equal(t, data, r.Body, rg)
		assert.Empty(t, r.Header.Get("Content-Range"), rg)
	}

	// HEAD with a range.
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("rng"), Key: aws.String("k"), Range: aws.String("bytes=0-9")})
	require.NoError(t, err)
	assert.Equal(t, int64(10), aws.ToInt64(hd.ContentLength))
	assert.Equal(t, "bytes 0-9/20", aws.ToString(hd.ContentRange))

	// A range of a large object crosses the copy buffer many times.
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("rng"), Key: aws.String("big"), Body: bytes.NewReader(big)})
	require.NoError(t, err)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("rng"), Key: aws.String("big"), Range: aws.String("bytes=100000-900000")})
	require.NoError(t, err)
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	require.NoError(t, err)
	assert.True(t, bytes.Equal(big[100000:900001], got))
}

func TestObjectConditionalGet(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("cond", false)
	put := putString(t, c, "cond", "k", "data")
	etag := aws.ToString(put.ETag)
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("cond"), Key: aws.String("k")})
	require.NoError(t, err)
	lm := aws.ToTime(hd.LastModified)
	past, future := httpTime(lm.Add(-time.Hour)), httpTime(lm.Add(time.Hour))

	cases := []struct {
		name   string
		hdr    map[string]string
		status int
	}{
		{"if-match ok", map[string]string{"If-Match": etag}, 200},
		{"if-match unquoted", map[string]string{"If-Match": strings.Trim(etag, `"`)}, 200},
		{"if-match star", map[string]string{"If-Match": "*"}, 200},
		{"if-match list", map[string]string{"If-Match": `"nope", ` + etag}, 200},
		{"if-match fails", map[string]string{"If-Match": `"nope"`}, 412},
		{"if-none-match matches", map[string]string{"If-None-Match": etag}, 304},
		{"if-none-match differs", map[string]string{"If-None-Match": `"nope"`}, 200},
		{"if-modified-since past", map[string]string{"If-Modified-Since": past}, 200},
		{"if-modified-since future", map[string]string{"If-Modified-Since": future}, 304},
		{"if-modified-since exact", map[string]string{"If-Modified-Since": httpTime(lm)}, 304},
		{"if-unmodified-since future", map[string]string{"If-Unmodified-Since": future}, 200},
		{"if-unmodified-since past", map[string]string{"If-Unmodified-Since": past}, 412},
		// AWS: If-Match true and If-Unmodified-Since false → 200.
		{"if-match wins over if-unmodified-since", map[string]string{"If-Match": etag, "If-Unmodified-Since": past}, 200},
		// AWS: If-None-Match false and If-Modified-Since true → 304.
		{"if-none-match false, if-modified-since true", map[string]string{"If-None-Match": etag, "If-Modified-Since": past}, 304},
		{"if-none-match true, if-modified-since false", map[string]string{"If-None-Match": `"nope"`, "If-Modified-Since": future}, 200},
		{"if-match fails before if-none-match", map[string]string{"If-Match": `"nope"`, "If-None-Match": etag}, 412},
		{"malformed date ignored", map[string]string{"If-Modified-Since": "yesterday"}, 200},
	}
	for _, tc := range cases {
		for _, m := range []string{http.MethodGet, http.MethodHead} {
			r := objDo(t, h, testUser, m, "/cond/k", nil, tc.hdr)
			assert.Equal(t, tc.status, r.Status, "%s %s", m, tc.name)
			switch {
			case tc.status == 304:
				assert.Empty(t, r.Body)
				assert.Equal(t, etag, r.Header.Get("ETag"), tc.name)
			case tc.status == 412 && m == http.MethodGet:
				assert.Contains(t, r.Body, "<Code>PreconditionFailed</Code>", tc.name)
			case tc.status == 200 && m == http.MethodGet:
				assert.Equal(t, "data", r.Body, tc.name)
			}
		}
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cond"), Key: aws.String("k"), IfMatch: aws.String(`"nope"`)})
	assert.Equal(t, "PreconditionFailed", apiCode(err))
}

func TestObjectConditionalPut(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("condw", false)
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("condw"), Key: aws.String("k"), Body: strings.NewReader("one"), IfNoneMatch: aws.String("*")})
	require.NoError(t, err, "If-None-Match: * on a new key")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("condw"), Key: aws.String("k"), Body: strings.NewReader("two"), IfNoneMatch: aws.String("*")})
	assert.Equal(t, "PreconditionFailed", apiCode(err))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("condw"), Key: aws.String("k"), Body: strings.NewReader("two"), IfMatch: aws.String(`"` + bodyETag("other") + `"`)})
	assert.Equal(t, "PreconditionFailed", apiCode(err))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("condw"), Key: aws.String("k"), Body: strings.NewReader("two"), IfMatch: aws.String(`"` + bodyETag("one") + `"`)})
	require.NoError(t, err)
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("condw"), Key: aws.String("missing"), Body: strings.NewReader("x"), IfMatch: aws.String(`"` + bodyETag("one") + `"`)})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	body, _ := getString(t, c, "condw", "k", "")
	assert.Equal(t, "two", body)
}

func TestObjectResponseOverrides(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("ovr", false)
	putString(t, c, "ovr", "k", "data")
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("ovr"), Key: aws.String("k"),
		ResponseContentType: aws.String("application/json"), ResponseContentDisposition: aws.String("inline"),
		ResponseCacheControl: aws.String("no-cache"), ResponseContentLanguage: aws.String("fr"),
		ResponseContentEncoding: aws.String("identity"), ResponseExpires: aws.Time(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC))})
	require.NoError(t, err)
	out.Body.Close()
	assert.Equal(t, "application/json", aws.ToString(out.ContentType))
	assert.Equal(t, "inline", aws.ToString(out.ContentDisposition))
	assert.Equal(t, "no-cache", aws.ToString(out.CacheControl))
	assert.Equal(t, "fr", aws.ToString(out.ContentLanguage))
	assert.Equal(t, "identity", aws.ToString(out.ContentEncoding))
	assert.Equal(t, "Wed, 02 Jan 2030 03:04:05 GMT", aws.ToString(out.ExpiresString))
}

func TestObjectReplicationStatus(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.replicated("src")
	h.mkBucket("plainv", true)

	// A client-sent x-amz-replication-status is ignored: the policy decides.
	r := objDo(t, h, testUser, http.MethodPut, "/src/k", []byte("data"), map[string]string{"x-amz-replication-status": "COMPLETED"})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusPending, hd.ReplicationStatus)
	_, out := getString(t, c, "src", "k", "")
	assert.Equal(t, s3types.ReplicationStatusPending, out.ReplicationStatus)
	v, err := h.srv.store.GetVersion(ctx, "src", "k", "")
	require.NoError(t, err)
	assert.Equal(t, bbproto.StatusPending, v.Replication.Status)
	assert.NotContains(t, v.Meta.UserMetadata, "replication-status")

	r = objDo(t, h, testUser, http.MethodPut, "/plainv/k", []byte("data"), map[string]string{"x-amz-replication-status": "REPLICA"})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	hd, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("plainv"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Empty(t, hd.ReplicationStatus, "no rule: no status, whatever the client sent")

	// Copies, completed uploads and delete markers in the replicated bucket are PENDING.
	_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("src"), Key: aws.String("copy"), CopySource: aws.String("plainv/k")})
	require.NoError(t, err)
	hd, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("copy")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusPending, hd.ReplicationStatus)
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("k")})
	require.NoError(t, err)
	recs, _, err := h.srv.store.ReadJournal(ctx, 0, 1000)
	require.NoError(t, err)
	last := recs[len(recs)-1]
	assert.Equal(t, bbproto.OpDeleteMarker, last.Op)
	assert.Equal(t, aws.ToString(del.VersionId), last.VersionID)
}

func TestObjectAccessDenied(t *testing.T) {
	h := newHarness(t)
	c, other := h.client(testUser), h.client(testOther)
	ctx := context.Background()
	h.mkBucket("mine", true)
	put := putString(t, c, "mine", "k", "secret")
	_, err := other.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("theirs")})
	require.NoError(t, err)

	_, err = other.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mine"), Key: aws.String("k")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mine"), Key: aws.String("k")})
	assert.Equal(t, "Forbidden", apiCode(err))
	_, err = other.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("mine"), Key: aws.String("k2"), Body: strings.NewReader("x")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("mine"), Key: aws.String("k")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("mine"), Key: aws.String("k")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("mine"), Key: aws.String("k"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mine"), Key: aws.String("mp")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	// Copying out of a bucket one does not own.
	_, err = other.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("theirs"), Key: aws.String("stolen"), CopySource: aws.String("mine/k")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	up, err := other.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("theirs"), Key: aws.String("mp")})
	require.NoError(t, err)
	_, err = other.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("theirs"), Key: aws.String("mp"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("mine/k")})
	assert.Equal(t, "AccessDenied", apiCode(err))

	// Nothing changed; the replication identity reads no bucket without a replication
	// configuration (TestReplicationIdentityLeastPrivilege covers the rest).
	body, _ := getString(t, c, "mine", "k", "")
	assert.Equal(t, "secret", body)
	_, err = h.client(testRepl).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mine"), Key: aws.String("k"), VersionId: put.VersionId})
	assert.Equal(t, "AccessDenied", apiCode(err))
}

// TestObjectPathEscaping checks that a raw request's escaped path is decoded once.
func TestObjectPathEscaping(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	h.mkBucket("esc", false)
	r := objDo(t, h, testUser, http.MethodPut, "/esc/"+url.PathEscape("a b%2F?#c"), []byte("x"), nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	body, _ := getString(t, c, "esc", "a b%2F?#c", "")
	assert.Equal(t, "x", body)
}

// unsignedDo sends a request signed with UNSIGNED-PAYLOAD whose body is streamed
// (chunked transfer encoding: no Content-Length) unless length >= 0.
func unsignedDo(t *testing.T, h *harness, method, path string, body io.Reader, length int64, header map[string]string) objResp {
	t.Helper()
	req, err := http.NewRequest(method, h.URL+path, body)
	require.NoError(t, err)
	req.ContentLength = length
	for k, v := range header {
		req.Header.Set(k, v)
	}
	payload := unsignedPayload
	if v := req.Header.Get("X-Amz-Content-Sha256"); v != "" {
		payload = v
	}
	require.NoError(t, sign(req, testUser, payload))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return objResp{Status: resp.StatusCode, Header: resp.Header, Body: string(data)}
}

func TestObjectPutStreamed(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("stream", false)

	// The SDK with a non-seekable body and UNSIGNED-PAYLOAD.
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stream"), Key: aws.String("sdk"),
		Body: io.MultiReader(strings.NewReader("hello "), strings.NewReader("world")), ContentLength: aws.Int64(11)},
		s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
	require.NoError(t, err)
	body, _ := getString(t, c, "stream", "sdk", "")
	assert.Equal(t, "hello world", body)

	// No declared length at all (chunked transfer encoding).
	r := unsignedDo(t, h, http.MethodPut, "/stream/chunked", io.MultiReader(strings.NewReader("abc"), strings.NewReader("def")), -1, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Equal(t, quoted(bodyETag("abcdef")), r.Header.Get("ETag"))
	body, _ = getString(t, c, "stream", "chunked", "")
	assert.Equal(t, "abcdef", body)

	// aws-chunked with a trailing checksum: verified by sigv4, stored from the trailer,
	// returned with checksum mode; aws-chunked is not the object's Content-Encoding.
	crc := crc32.ChecksumIEEE([]byte("hello world"))
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], crc)
	sum := base64.StdEncoding.EncodeToString(b[:])
	framed := "b\r\nhello world\r\n0\r\nx-amz-checksum-crc32:" + sum + "\r\n\r\n"
	r = unsignedDo(t, h, http.MethodPut, "/stream/trailer", strings.NewReader(framed), int64(len(framed)), map[string]string{
		"Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": "11", "x-amz-trailer": "x-amz-checksum-crc32",
		"X-Amz-Content-Sha256": "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
	})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	got, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stream"), Key: aws.String("trailer"), ChecksumMode: s3types.ChecksumModeEnabled})
	require.NoError(t, err)
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, "hello world", string(data))
	assert.Equal(t, sum, aws.ToString(got.ChecksumCRC32))
	assert.Empty(t, aws.ToString(got.ContentEncoding))
}

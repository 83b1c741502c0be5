package s3server

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestKeyNotUTF8 checks that every route taking a key refuses one that is not valid
// UTF-8 with 400 InvalidURI, as S3, and that nothing is stored under it.
func TestKeyNotUTF8(t *testing.T) {
	h := newHarness(t)
	h.mkBucket("utf", true)
	c := h.client(testUser)
	putString(t, c, "utf", "good", "x")
	for _, tc := range []struct {
		name, method, path string
		header             map[string]string
	}{
		{"put", http.MethodPut, "/utf/bad%FF%FE", nil},
		{"get", http.MethodGet, "/utf/bad%FF", nil},
		{"delete", http.MethodDelete, "/utf/bad%C3%28", nil},
		{"tagging", http.MethodGet, "/utf/bad%FF?tagging", nil},
		{"create multipart", http.MethodPost, "/utf/bad%FF?uploads", nil},
		{"upload part", http.MethodPut, "/utf/bad%FF?uploadId=x&partNumber=1", nil},
		{"copy source", http.MethodPut, "/utf/copy", map[string]string{"x-amz-copy-source": "/utf/bad%FF%FE"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := objDo(t, h, testUser, tc.method, tc.path, nil, tc.header)
			assert.Equal(t, http.StatusBadRequest, r.Status, r.Body)
			assert.Contains(t, r.Body, "<Code>InvalidURI</Code>")
		})
	}
	r := objDo(t, h, testUser, http.MethodGet, "/utf?list-type=2", nil, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.Equal(t, 1, strings.Count(r.Body, "<Key>"), "only the valid key is listed: %s", r.Body)
}

// TestRegionEnforced checks that a request signed for another region than the server's
// is refused as S3 does: 400 AuthorizationHeaderMalformed (header auth) or
// AuthorizationQueryParametersError (presigned URL), naming the expected region in the
// message only: AWS also puts it in a <Region> element, from which boto3 and the AWS CLI
// re-sign and retry on their own, so a client configured for the wrong region would
// never be told. s3server serves one region: the misconfiguration is reported, not
// papered over.
func TestRegionEnforced(t *testing.T) {
	h := newHarness(t)
	h.mkBucket("reg", false)
	ctx := context.Background()
	eu := s3.New(s3.Options{
		BaseEndpoint: aws.String(h.URL), Region: "eu-west-1", UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(testUser.AccessKey, testUser.SecretKey, ""),
	})
	_, err := eu.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("reg")})
	var re *smithyhttp.ResponseError
	require.ErrorAs(t, err, &re)
	assert.Equal(t, http.StatusBadRequest, re.HTTPStatusCode())
	assert.Equal(t, "AuthorizationHeaderMalformed", apiCode(err))
	assert.Contains(t, err.Error(), "the region 'eu-west-1' is wrong; expecting 'us-east-1'")

	req, err := s3.NewPresignClient(eu).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("reg"), Key: aws.String("k")})
	require.NoError(t, err)
	resp, err := http.Get(req.URL)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, string(body), "<Code>AuthorizationQueryParametersError</Code>")
	assert.Contains(t, string(body), "expecting &#39;us-east-1&#39;")
	assert.NotContains(t, string(body), "<Region>", "no element for clients to re-sign from")

	// The server's own region is accepted.
	_, err = h.client(testUser).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("reg")})
	require.NoError(t, err)
}

// stalledReader returns its data, then blocks until stop is closed.
type stalledReader struct {
	data []byte
	stop chan struct{}
}

func (r *stalledReader) Read(p []byte) (int, error) {
	if len(r.data) > 0 {
		n := copy(p, r.data)
		r.data = r.data[n:]
		return n, nil
	}
	<-r.stop
	return 0, io.EOF
}

// TestStalledBodyTimesOut sends a signed PUT whose headers promise 200 bytes, sends
// 100, then goes silent: the server answers 400 RequestTimeout after the idle timeout
// and closes the connection; nothing is stored. Headers that stall get the connection
// closed too.
func TestStalledBodyTimesOut(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = 300 * time.Millisecond })
	h.mkBucket("stall", false)
	for _, tc := range []struct{ name, path string }{
		{"signed put", "/stall/obj"},
		{"refused before the body is read", "/no-such-bucket/obj"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stop := make(chan struct{})
			defer close(stop)
			req, err := http.NewRequest(http.MethodPut, h.URL+tc.path, &stalledReader{data: bytes.Repeat([]byte("a"), 100), stop: stop})
			require.NoError(t, err)
			req.ContentLength = 200
			require.NoError(t, sign(req, testUser, unsignedPayload))
			conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
			require.NoError(t, err)
			defer conn.Close()
			go req.Write(conn) // blocks in the stalled body until stop
			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			resp, err := http.ReadResponse(bufio.NewReader(conn), req)
			require.NoError(t, err, "the server answers within the deadline")
			body, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			if tc.path == "/stall/obj" {
				assert.Equal(t, http.StatusBadRequest, resp.StatusCode, string(body))
				assert.Contains(t, string(body), "<Code>RequestTimeout</Code>")
			}
			assert.True(t, resp.Close, "the connection is closed after the answer")
			_, err = conn.Read(make([]byte, 1))
			assert.ErrorIs(t, err, io.EOF, "the server closed the connection")
		})
	}
	_, err := h.client(testUser).HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("stall"), Key: aws.String("obj")})
	assert.Equal(t, "NotFound", apiCode(err), "nothing was stored")

	t.Run("stalled headers", func(t *testing.T) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		_, err = io.WriteString(conn, "PUT /stall/obj HTTP/1.1\r\nHost: x\r\n")
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		_, err = io.ReadAll(conn)
		assert.NoError(t, err, "the server closed the connection before the test's deadline")
	})
}

// tricklingReader returns one byte per read, pausing before each.
type tricklingReader struct {
	n     int
	pause time.Duration
}

func (r *tricklingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	time.Sleep(r.pause) // the slow client under test, not a synchronisation
	r.n--
	p[0] = 'a'
	return 1, nil
}

// TestSlowBodyWithinIdleTimeout checks that the timeout is on silence, not on the whole
// body: a body that keeps arriving, more slowly in total than the timeout, is stored.
func TestSlowBodyWithinIdleTimeout(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.IdleTimeout = time.Second })
	h.mkBucket("slow", false)
	r := unsignedDo(t, h, http.MethodPut, "/slow/obj", &tricklingReader{n: 8, pause: 250 * time.Millisecond}, 8, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	body, _ := getString(t, h.client(testUser), "slow", "obj", "")
	assert.Equal(t, "aaaaaaaa", body)
}

// startUpload creates a multipart upload of key with one part holding body and returns
// the upload id and the part's ETag.
func startUpload(t *testing.T, c *s3.Client, bucket, key, body string) (uploadID, etag string) {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	part, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader(body)})
	require.NoError(t, err)
	return aws.ToString(up.UploadId), aws.ToString(part.ETag)
}

// TestDeleteBucketWithUploadsOnly checks that incomplete multipart uploads do not keep a
// bucket alive (S3 requires only versions and delete markers to be gone): the bucket is
// deleted and the uploads with it.
func TestDeleteBucketWithUploadsOnly(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("mpu", true)
	uploadID, _ := startUpload(t, c, "mpu", "k", "part one")

	_, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("mpu")})
	require.NoError(t, err)
	h.mkBucket("mpu", false)
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	require.NoError(t, err)
	assert.Empty(t, ups.Uploads, "the uploads went with the deleted bucket")
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("k"), UploadId: aws.String(uploadID)})
	assert.Equal(t, "NoSuchUpload", apiCode(err))
}

// TestCreateOwnedBucketOutsideUSEast1 checks that re-creating an owned bucket is
// 409 BucketAlreadyOwnedByYou in a region other than us-east-1 (there it is 200, see
// TestBucketCreateListHeadDelete), and that the bucket is left as it was.
func TestCreateOwnedBucketOutsideUSEast1(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Region = "eu-west-1" })
	c := h.client(testUser)
	ctx := context.Background()
	cfg := &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mine"), CreateBucketConfiguration: cfg})
	require.NoError(t, err)
	putString(t, c, "mine", "k", "kept")
	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("mine"), CreateBucketConfiguration: cfg})
	assert.Equal(t, "BucketAlreadyOwnedByYou", apiCode(err))
	body, _ := getString(t, c, "mine", "k", "")
	assert.Equal(t, "kept", body)
}

// TestCompleteMultipartUploadRepeated checks that a retried CompleteMultipartUpload of an
// upload that just completed answers 200 with the same object (ETag, version id), as S3,
// while an upload that never existed, or whose version was deleted, stays NoSuchUpload.
func TestCompleteMultipartUploadRepeated(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("again", true)
	uploadID, etag := startUpload(t, c, "again", "k", "only part")
	in := &s3.CompleteMultipartUploadInput{Bucket: aws.String("again"), Key: aws.String("k"), UploadId: aws.String(uploadID),
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(etag)}}}}
	first, err := c.CompleteMultipartUpload(ctx, in)
	require.NoError(t, err)
	putString(t, c, "again", "k", "a newer version") // the retry still finds the completed one

	again, err := c.CompleteMultipartUpload(ctx, in)
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(first.ETag), aws.ToString(again.ETag))
	assert.Equal(t, aws.ToString(first.VersionId), aws.ToString(again.VersionId))
	assert.NotEmpty(t, aws.ToString(again.VersionId))

	other := *in
	other.UploadId = aws.String("never-created")
	_, err = c.CompleteMultipartUpload(ctx, &other)
	assert.Equal(t, "NoSuchUpload", apiCode(err))
	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("again"), Key: aws.String("k"), VersionId: first.VersionId})
	require.NoError(t, err)
	_, err = c.CompleteMultipartUpload(ctx, in)
	assert.Equal(t, "NoSuchUpload", apiCode(err), "the completed version is gone")
}

// TestInvalidVersionID checks that a version id no store issued and naming no version is
// 400 InvalidArgument on GET, HEAD, DELETE and in DeleteObjects, as S3, while a
// well-formed id of a missing version stays 404 NoSuchVersion (204 for a DELETE).
func TestInvalidVersionID(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("vid", true)
	putString(t, c, "vid", "k", "x")
	const missing = "00000000000000000000000000000000" // issued shape, no such version
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodDelete} {
		r := objDo(t, h, testUser, m, "/vid/k?versionId=not-a-version", nil, nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, m)
		if m != http.MethodHead {
			assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>", m)
		}
	}
	r := objDo(t, h, testUser, http.MethodGet, "/vid/k?versionId="+missing, nil, nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Contains(t, r.Body, "<Code>NoSuchVersion</Code>")
	r = objDo(t, h, testUser, http.MethodDelete, "/vid/k?versionId="+missing, nil, nil)
	assert.Equal(t, http.StatusNoContent, r.Status)

	out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("vid"), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{
		{Key: aws.String("k"), VersionId: aws.String("not-a-version")},
		{Key: aws.String("k"), VersionId: aws.String(missing)},
	}}})
	require.NoError(t, err)
	require.Len(t, out.Errors, 1)
	assert.Equal(t, "InvalidArgument", aws.ToString(out.Errors[0].Code))
	assert.Equal(t, "not-a-version", aws.ToString(out.Errors[0].VersionId))
	require.Len(t, out.Deleted, 1)
	assert.Equal(t, missing, aws.ToString(out.Deleted[0].VersionId))
}

// TestForgedContinuationToken checks that a continuation token the server did not issue
// (or issued for another bucket) is 400 InvalidArgument, while its own tokens resume.
func TestForgedContinuationToken(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("tok", false)
	h.mkBucket("tok2", false)
	for _, k := range []string{"a", "b", "c"} {
		putString(t, c, "tok", k, k)
		putString(t, c, "tok2", k, k)
	}
	page, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tok"), MaxKeys: aws.Int32(1)})
	require.NoError(t, err)
	next, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("tok"), ContinuationToken: page.NextContinuationToken})
	require.NoError(t, err)
	require.Len(t, next.Contents, 2)
	assert.Equal(t, "b", aws.ToString(next.Contents[0].Key))

	for name, tok := range map[string]string{
		"forged":       base64.RawURLEncoding.EncodeToString([]byte("a")),
		"garbage":      "not base64!",
		"other bucket": aws.ToString(page.NextContinuationToken),
	} {
		bucket := "tok"
		if name == "other bucket" {
			bucket = "tok2"
		}
		_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), ContinuationToken: aws.String(tok)})
		assert.Equal(t, "InvalidArgument", apiCode(err), name)
	}
}

// TestPutWithoutContentLength checks that a PUT of data framed neither by Content-Length
// nor chunked transfer encoding is 411 MissingContentLength (object and part), as S3,
// while an explicit Content-Length: 0 stores an empty object.
func TestPutWithoutContentLength(t *testing.T) {
	h := newHarness(t)
	h.mkBucket("len", false)
	uploadID, _ := startUpload(t, h.client(testUser), "len", "mpu", "part")
	send := func(path string, header string) string {
		conn, err := net.Dial("tcp", strings.TrimPrefix(h.URL, "http://"))
		require.NoError(t, err)
		defer conn.Close()
		req, err := http.NewRequest(http.MethodPut, h.URL+path, nil)
		require.NoError(t, err)
		require.NoError(t, sign(req, testUser, payloadHash(nil)))
		var b strings.Builder
		b.WriteString("PUT " + req.URL.RequestURI() + " HTTP/1.1\r\nHost: " + req.Host + "\r\n")
		for k, vs := range req.Header {
			b.WriteString(k + ": " + vs[0] + "\r\n")
		}
		b.WriteString(header + "\r\n")
		_, err = io.WriteString(conn, b.String())
		require.NoError(t, err)
		require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
		resp, err := http.ReadResponse(bufio.NewReader(conn), req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return fmt.Sprint(resp.StatusCode, " ", string(body))
	}
	assert.Contains(t, send("/len/obj", ""), "411 ")
	assert.Contains(t, send("/len/obj", ""), "<Code>MissingContentLength</Code>")
	assert.Contains(t, send("/len/mpu?partNumber=2&uploadId="+uploadID, ""), "<Code>MissingContentLength</Code>")
	assert.Contains(t, send("/len/obj", "Content-Length: 0\r\n"), "200 ")
	body, _ := getString(t, h.client(testUser), "len", "obj", "")
	assert.Empty(t, body)
}

// TestUserMetadataNonASCII checks that non-ASCII user metadata round-trips as S3 does
// it: sent raw or RFC 2047 encoded, stored decoded, returned RFC 2047 encoded; ASCII
// values are returned as sent.
func TestUserMetadataNonASCII(t *testing.T) {
	h := newHarness(t)
	h.mkBucket("meta", false)
	const value = "café ☕ 東京"
	r := objDo(t, h, testUser, http.MethodPut, "/meta/k", []byte("x"), map[string]string{
		"x-amz-meta-raw":     value,
		"x-amz-meta-encoded": mime.BEncoding.Encode("UTF-8", value),
		"x-amz-meta-ascii":   "plain =?not encoded?= value",
	})
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	dec := new(mime.WordDecoder)
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		r = objDo(t, h, testUser, m, "/meta/k", nil, nil)
		require.Equal(t, http.StatusOK, r.Status)
		for _, name := range []string{"x-amz-meta-raw", "x-amz-meta-encoded"} {
			got := r.Header.Get(name)
			assert.True(t, strings.HasPrefix(got, "=?UTF-8?B?"), "%s %s: %q", m, name, got)
			decoded, err := dec.DecodeHeader(got)
			require.NoError(t, err)
			assert.Equal(t, value, decoded, "%s %s", m, name)
		}
		assert.Equal(t, "plain =?not encoded?= value", r.Header.Get("x-amz-meta-ascii"))
	}
	v, err := h.srv.store.GetVersion(context.Background(), "meta", "k", "")
	require.NoError(t, err)
	assert.Equal(t, value, v.Meta.UserMetadata["encoded"], "stored decoded")
}

// TestGetObjectAttributes checks GetObjectAttributes through the SDK: the asked-for
// attributes of the latest or a given version, parts of a multipart object (paged),
// a delete marker answered as GET does, and a missing or unknown attribute refused.
func TestGetObjectAttributes(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("attrs", true)
	all := []s3types.ObjectAttributes{s3types.ObjectAttributesEtag, s3types.ObjectAttributesChecksum,
		s3types.ObjectAttributesObjectParts, s3types.ObjectAttributesStorageClass, s3types.ObjectAttributesObjectSize}

	first, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		Body: strings.NewReader("hello"), ChecksumAlgorithm: s3types.ChecksumAlgorithmCrc32})
	require.NoError(t, err)
	data, etag := uploadParts(t, c, "attrs", "k", 5<<20, 7)

	out, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		ObjectAttributes: all, MaxParts: aws.Int32(1)})
	require.NoError(t, err)
	assert.Equal(t, strings.Trim(etag, `"`), aws.ToString(out.ETag))
	assert.Equal(t, int64(len(data)), aws.ToInt64(out.ObjectSize))
	assert.Equal(t, s3types.StorageClassStandard, out.StorageClass)
	require.NotNil(t, out.ObjectParts)
	assert.Equal(t, int32(2), aws.ToInt32(out.ObjectParts.TotalPartsCount))
	assert.True(t, aws.ToBool(out.ObjectParts.IsTruncated))
	require.Len(t, out.ObjectParts.Parts, 1)
	assert.Equal(t, int64(5<<20), aws.ToInt64(out.ObjectParts.Parts[0].Size))
	out2, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		ObjectAttributes: all, PartNumberMarker: out.ObjectParts.NextPartNumberMarker})
	require.NoError(t, err)
	require.Len(t, out2.ObjectParts.Parts, 1)
	assert.Equal(t, int32(2), aws.ToInt32(out2.ObjectParts.Parts[0].PartNumber))
	assert.Equal(t, int64(7), aws.ToInt64(out2.ObjectParts.Parts[0].Size))

	old, err := c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		VersionId: first.VersionId, ObjectAttributes: []s3types.ObjectAttributes{s3types.ObjectAttributesObjectSize, s3types.ObjectAttributesChecksum, s3types.ObjectAttributesObjectParts}})
	require.NoError(t, err)
	assert.Equal(t, int64(5), aws.ToInt64(old.ObjectSize))
	assert.Equal(t, aws.ToString(first.VersionId), aws.ToString(old.VersionId))
	require.NotNil(t, old.Checksum)
	assert.Equal(t, aws.ToString(first.ChecksumCRC32), aws.ToString(old.Checksum.ChecksumCRC32))
	assert.Nil(t, old.ObjectParts, "a single PUT has no parts")
	assert.Empty(t, aws.ToString(old.ETag), "not asked for")

	r := objDo(t, h, testUser, http.MethodGet, "/attrs/k?attributes", nil, nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>")
	r = objDo(t, h, testUser, http.MethodGet, "/attrs/k?attributes", nil, map[string]string{"x-amz-object-attributes": "ETag,Color"})
	assert.Equal(t, http.StatusBadRequest, r.Status)

	_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("attrs"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = c.GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"), ObjectAttributes: all})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	_, err = h.client(testOther).GetObjectAttributes(ctx, &s3.GetObjectAttributesInput{Bucket: aws.String("attrs"), Key: aws.String("k"),
		VersionId: first.VersionId, ObjectAttributes: all})
	assert.Equal(t, "AccessDenied", apiCode(err))
}

// TestUnconfiguredFeatures checks that features this server does not offer answer as S3
// does for a bucket with ACLs disabled and nothing else configured.
func TestUnconfiguredFeatures(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("plain", true)
	put := putString(t, c, "plain", "k", "x")

	acl, err := c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("plain")})
	require.NoError(t, err)
	assert.Equal(t, testUser.Name, aws.ToString(acl.Owner.ID))
	require.Len(t, acl.Grants, 1)
	assert.Equal(t, s3types.PermissionFullControl, acl.Grants[0].Permission)
	assert.Equal(t, s3types.TypeCanonicalUser, acl.Grants[0].Grantee.Type)
	assert.Equal(t, testUser.Name, aws.ToString(acl.Grants[0].Grantee.ID))
	oacl, err := c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("plain"), Key: aws.String("k"), VersionId: put.VersionId})
	require.NoError(t, err)
	require.Len(t, oacl.Grants, 1)
	_, err = c.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("plain"), Key: aws.String("nope")})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	_, err = h.client(testOther).GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("plain")})
	assert.Equal(t, "AccessDenied", apiCode(err))

	// Setting an ACL: only the owner's full control.
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), ACL: s3types.BucketCannedACLPrivate})
	assert.NoError(t, err)
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), ACL: s3types.BucketCannedACLPublicRead})
	assert.Equal(t, "AccessControlListNotSupported", apiCode(err))
	_, err = c.PutBucketAcl(ctx, &s3.PutBucketAclInput{Bucket: aws.String("plain"), AccessControlPolicy: &s3types.AccessControlPolicy{
		Owner: acl.Owner, Grants: acl.Grants}})
	assert.NoError(t, err, "the owner's full control, as a document")
	_, err = c.PutObjectAcl(ctx, &s3.PutObjectAclInput{Bucket: aws.String("plain"), Key: aws.String("k"), AccessControlPolicy: &s3types.AccessControlPolicy{
		Owner: acl.Owner, Grants: append(acl.Grants, s3types.Grant{Permission: s3types.PermissionRead,
			Grantee: &s3types.Grantee{Type: s3types.TypeGroup, URI: aws.String("http://acs.amazonaws.com/groups/global/AllUsers")}})}})
	assert.Equal(t, "AccessControlListNotSupported", apiCode(err))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("pub"), Body: strings.NewReader("x"), ACL: s3types.ObjectCannedACLPublicRead})
	assert.Equal(t, "AccessControlListNotSupported", apiCode(err))
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("plain"), Key: aws.String("mine"), Body: strings.NewReader("x"), ACL: s3types.ObjectCannedACLBucketOwnerFullControl})
	assert.NoError(t, err)

	own, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: aws.String("plain")})
	require.NoError(t, err)
	require.Len(t, own.OwnershipControls.Rules, 1)
	assert.Equal(t, s3types.ObjectOwnershipBucketOwnerEnforced, own.OwnershipControls.Rules[0].ObjectOwnership)

	_, err = c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: aws.String("plain")})
	assert.Equal(t, "ObjectLockConfigurationNotFoundError", apiCode(err))
	_, err = c.GetObjectRetention(ctx, &s3.GetObjectRetentionInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	assert.Equal(t, "InvalidRequest", apiCode(err))
	_, err = c.GetObjectLegalHold(ctx, &s3.GetObjectLegalHoldInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	assert.Equal(t, "InvalidRequest", apiCode(err))
	_, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("plain")})
	assert.Equal(t, "NoSuchCORSConfiguration", apiCode(err))
	_, err = c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String("plain")})
	assert.Equal(t, "NoSuchLifecycleConfiguration", apiCode(err))
	_, err = c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: aws.String("plain")})
	assert.Equal(t, "NoSuchWebsiteConfiguration", apiCode(err))
	_, err = c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: aws.String("plain")})
	assert.Equal(t, "NoSuchPublicAccessBlockConfiguration", apiCode(err))
	_, err = c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String("no-such-bucket")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))
}

// TestPartNumberPastLastPart checks GET and HEAD ?partNumber=N past the object's last
// part: 416 InvalidPartNumber, as S3.
func TestPartNumberPastLastPart(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	h.mkBucket("parts", false)
	uploadParts(t, c, "parts", "mpu", 5<<20, 3)
	putString(t, c, "parts", "single", "x")
	for _, path := range []string{"/parts/mpu?partNumber=3", "/parts/single?partNumber=2"} {
		r := objDo(t, h, testUser, http.MethodGet, path, nil, nil)
		assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status, path)
		assert.Contains(t, r.Body, "<Code>InvalidPartNumber</Code>", path)
		r = objDo(t, h, testUser, http.MethodHead, path, nil, nil)
		assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status, path)
	}
	r := objDo(t, h, testUser, http.MethodGet, "/parts/mpu?partNumber=2", nil, nil)
	assert.Equal(t, http.StatusPartialContent, r.Status)
	assert.Equal(t, "3", r.Header.Get("Content-Length"))
}

package s3server

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// partSize is the smallest size of a part that is not the last.
const partSize = 5 << 20

// patterned returns n bytes of pseudo-random data from seed.
func patterned(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed+1))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// multipartETag is the ETag S3 gives an object made of parts: the MD5 of the parts'
// MD5s, a dash and the number of parts (quoted).
func multipartETag(parts ...[]byte) string {
	var sums []byte
	for _, p := range parts {
		s := md5.Sum(p)
		sums = append(sums, s[:]...)
	}
	s := md5.Sum(sums)
	return fmt.Sprintf(`"%s-%d"`, hex.EncodeToString(s[:]), len(parts))
}

// uploadParts makes key from parts of the given sizes through the SDK and returns its
// data and the ETag the server answered (checked against multipartETag).
func uploadParts(t *testing.T, c *s3.Client, bucket, key string, sizes ...int) ([]byte, string) {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	require.NoError(t, err)
	var (
		all      []byte
		parts    [][]byte
		complete []s3types.CompletedPart
	)
	for i, n := range sizes {
		p := patterned(n, uint64(i+1))
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		require.NoError(t, err)
		s := md5.Sum(p)
		require.Equal(t, quoted(hex.EncodeToString(s[:])), aws.ToString(out.ETag))
		complete = append(complete, s3types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
		parts = append(parts, p)
		all = append(all, p...)
	}
	out, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: complete}})
	require.NoError(t, err)
	require.Equal(t, multipartETag(parts...), aws.ToString(out.ETag))
	return all, aws.ToString(out.ETag)
}

func TestMultipartHappyPath(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("mpu", true)

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"),
		ContentType: aws.String("video/mp4"), Metadata: map[string]string{"origin": "test"}, Tagging: aws.String("k=v")})
	require.NoError(t, err)
	assert.Equal(t, "mpu", aws.ToString(up.Bucket))
	assert.Equal(t, "dir/big", aws.ToString(up.Key))
	require.NotEmpty(t, aws.ToString(up.UploadId))

	parts := [][]byte{patterned(partSize, 1), patterned(partSize+1234, 2), patterned(4321, 3)}
	var completed []s3types.CompletedPart
	for i, p := range parts {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		require.NoError(t, err)
		completed = append(completed, s3types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag, ChecksumCRC32: out.ChecksumCRC32})
	}
	// Re-uploading a part replaces it.
	parts[2] = patterned(999, 33)
	out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), Body: bytes.NewReader(parts[2])})
	require.NoError(t, err)
	completed[2] = s3types.CompletedPart{PartNumber: aws.Int32(3), ETag: out.ETag}

	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), UploadId: up.UploadId})
	require.NoError(t, err)
	require.Len(t, lp.Parts, 3)
	assert.False(t, aws.ToBool(lp.IsTruncated))
	assert.Equal(t, testUser.Name, aws.ToString(lp.Initiator.ID))
	assert.Equal(t, testUser.Name, aws.ToString(lp.Owner.ID))
	assert.Equal(t, s3types.StorageClassStandard, lp.StorageClass)
	for i, p := range lp.Parts {
		assert.Equal(t, int32(i+1), aws.ToInt32(p.PartNumber))
		assert.Equal(t, int64(len(parts[i])), aws.ToInt64(p.Size))
		assert.Equal(t, aws.ToString(completed[i].ETag), aws.ToString(p.ETag))
		assert.False(t, aws.ToTime(p.LastModified).IsZero())
	}

	uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mpu")})
	require.NoError(t, err)
	require.Len(t, uploads.Uploads, 1)
	assert.Equal(t, aws.ToString(up.UploadId), aws.ToString(uploads.Uploads[0].UploadId))

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: completed}})
	require.NoError(t, err)
	assert.Equal(t, multipartETag(parts...), aws.ToString(done.ETag))
	assert.Equal(t, "mpu", aws.ToString(done.Bucket))
	assert.Equal(t, "dir/big", aws.ToString(done.Key))
	assert.Equal(t, h.URL+"/mpu/dir/big", aws.ToString(done.Location))
	require.NotEmpty(t, aws.ToString(done.VersionId))

	body, get := getString(t, c, "mpu", "dir/big", "")
	assert.True(t, body == string(bytes.Join(parts, nil)), "completed data differs")
	assert.Equal(t, multipartETag(parts...), aws.ToString(get.ETag))
	assert.Equal(t, aws.ToString(done.VersionId), aws.ToString(get.VersionId))
	assert.Equal(t, "video/mp4", aws.ToString(get.ContentType))
	assert.Equal(t, "test", get.Metadata["origin"])
	assert.Equal(t, int32(1), aws.ToInt32(get.TagCount))

	// The upload is gone.
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), UploadId: up.UploadId})
	assert.Equal(t, "NoSuchUpload", apiCode(err))

	// partNumber serves one part with the parts count (206).
	for i, p := range parts {
		out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), PartNumber: aws.Int32(int32(i + 1))})
		require.NoError(t, err)
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		require.NoError(t, err)
		assert.True(t, bytes.Equal(p, got), "part %d", i+1)
		assert.Equal(t, int32(3), aws.ToInt32(out.PartsCount))
		assert.Equal(t, multipartETag(parts...), aws.ToString(out.ETag))
		hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"), PartNumber: aws.Int32(int32(i + 1))})
		require.NoError(t, err)
		assert.Equal(t, int64(len(p)), aws.ToInt64(hd.ContentLength))
		assert.Equal(t, int32(3), aws.ToInt32(hd.PartsCount))
	}
	r := objDo(t, h, testUser, http.MethodGet, "/mpu/dir/big?partNumber=2", nil, nil)
	assert.Equal(t, http.StatusPartialContent, r.Status)
	assert.Equal(t, fmt.Sprintf("bytes %d-%d/%d", partSize, 2*partSize+1234-1, 2*partSize+1234+999), r.Header.Get("Content-Range"))
	r = objDo(t, h, testUser, http.MethodGet, "/mpu/dir/big?partNumber=4", nil, nil)
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status)
	assert.Contains(t, r.Body, "<Code>InvalidPartNumber</Code>")
	r = objDo(t, h, testUser, http.MethodGet, "/mpu/dir/big?partNumber=0", nil, nil)
	assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>")
	r = objDo(t, h, testUser, http.MethodGet, "/mpu/dir/big?partNumber=1", nil, map[string]string{"Range": "bytes=0-1"})
	assert.Contains(t, r.Body, "<Code>InvalidRequest</Code>")

	// A range across the part boundary.
	out2, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("mpu"), Key: aws.String("dir/big"),
		Range: aws.String(fmt.Sprintf("bytes=%d-%d", partSize-10, partSize+9))})
	require.NoError(t, err)
	got, err := io.ReadAll(out2.Body)
	out2.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, append(append([]byte{}, parts[0][partSize-10:]...), parts[1][:10]...), got)

	// A single-PUT object has just part 1: the whole object.
	putString(t, c, "mpu", "small", "abc")
	r = objDo(t, h, testUser, http.MethodGet, "/mpu/small?partNumber=1", nil, nil)
	assert.Equal(t, "abc", r.Body)
	assert.Empty(t, r.Header.Get("x-amz-mp-parts-count"))
	r = objDo(t, h, testUser, http.MethodGet, "/mpu/small?partNumber=2", nil, nil)
	assert.Equal(t, http.StatusRequestedRangeNotSatisfiable, r.Status)
}

func TestMultipartListPartsPagination(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("pages", false)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("pages"), Key: aws.String("k")})
	require.NoError(t, err)
	for _, n := range []int32{1, 2, 3, 5, 8} {
		_, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("pages"), Key: aws.String("k"), UploadId: up.UploadId,
			PartNumber: aws.Int32(n), Body: strings.NewReader(fmt.Sprint("part", n))})
		require.NoError(t, err)
	}
	var got []int32
	pages := 0
	p := s3.NewListPartsPaginator(c, &s3.ListPartsInput{Bucket: aws.String("pages"), Key: aws.String("k"), UploadId: up.UploadId, MaxParts: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		assert.Equal(t, int32(2), aws.ToInt32(out.MaxParts))
		for _, pt := range out.Parts {
			got = append(got, aws.ToInt32(pt.PartNumber))
		}
		if aws.ToBool(out.IsTruncated) {
			assert.Equal(t, got[len(got)-1], mustAtoi32(t, aws.ToString(out.NextPartNumberMarker)))
		}
	}
	assert.Equal(t, []int32{1, 2, 3, 5, 8}, got)
	assert.Equal(t, 3, pages)

	out, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("pages"), Key: aws.String("k"), UploadId: up.UploadId, PartNumberMarker: aws.String("3")})
	require.NoError(t, err)
	require.Len(t, out.Parts, 2)
	assert.Equal(t, int32(5), aws.ToInt32(out.Parts[0].PartNumber))
	assert.Equal(t, "3", aws.ToString(out.PartNumberMarker))

	r := objDo(t, h, testUser, http.MethodGet, "/pages/k?uploadId="+aws.ToString(up.UploadId)+"&max-parts=-1", nil, nil)
	assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>")
	r = objDo(t, h, testUser, http.MethodGet, "/pages/k?uploadId="+aws.ToString(up.UploadId)+"&part-number-marker=x", nil, nil)
	assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>")
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("pages"), Key: aws.String("other"), UploadId: up.UploadId})
	assert.Equal(t, "NoSuchUpload", apiCode(err), "an upload id of another key")
}

func mustAtoi32(t *testing.T, s string) int32 {
	t.Helper()
	var n int32
	_, err := fmt.Sscan(s, &n)
	require.NoError(t, err, s)
	return n
}

func TestMultipartAbort(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("abort", false)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("abort"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("abort"), Key: aws.String("k"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), Body: strings.NewReader("data")})
	require.NoError(t, err)

	r := objDo(t, h, testUser, http.MethodDelete, "/abort/k?uploadId="+aws.ToString(up.UploadId), nil, nil)
	assert.Equal(t, http.StatusNoContent, r.Status)
	_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("abort"), Key: aws.String("k"), UploadId: up.UploadId})
	assert.Equal(t, "NoSuchUpload", apiCode(err))
	_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("abort"), Key: aws.String("k"), UploadId: up.UploadId})
	assert.Equal(t, "NoSuchUpload", apiCode(err))
	_, err = c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("abort"), Key: aws.String("k"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), Body: strings.NewReader("data")})
	assert.Equal(t, "NoSuchUpload", apiCode(err))
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("abort"), Key: aws.String("k"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(bodyETag("data"))}}}})
	assert.Equal(t, "NoSuchUpload", apiCode(err))
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("abort")})
	require.NoError(t, err)
	assert.Empty(t, lu.Uploads)
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		r := objDo(t, h, testUser, m, "/abort/k?uploadId=", nil, nil)
		assert.Equal(t, http.StatusNotFound, r.Status, "%s with an empty upload id", m)
		assert.Contains(t, r.Body, "<Code>NoSuchUpload</Code>", m)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("abort"), Key: aws.String("k")})
	assert.Equal(t, "NotFound", apiCode(err))
}

func TestMultipartUploadPartErrors(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("parts", false)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("parts"), Key: aws.String("k")})
	require.NoError(t, err)
	id := aws.ToString(up.UploadId)
	for _, n := range []string{"0", "10001", "x", ""} {
		r := objDo(t, h, testUser, http.MethodPut, "/parts/k?partNumber="+n+"&uploadId="+id, []byte("data"), nil)
		assert.Equal(t, http.StatusBadRequest, r.Status, n)
		assert.Contains(t, r.Body, "<Code>InvalidArgument</Code>", n)
	}
	r := objDo(t, h, testUser, http.MethodPut, "/parts/k?partNumber=10000&uploadId="+id, []byte("data"), nil)
	assert.Equal(t, http.StatusOK, r.Status, r.Body)
	r = objDo(t, h, testUser, http.MethodPut, "/parts/k?partNumber=1&uploadId=nope", []byte("data"), nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Contains(t, r.Body, "<Code>NoSuchUpload</Code>")
	other := md5.Sum([]byte("other"))
	r = objDo(t, h, testUser, http.MethodPut, "/parts/k?partNumber=1&uploadId="+id, []byte("data"),
		map[string]string{"Content-MD5": base64.StdEncoding.EncodeToString(other[:])})
	assert.Contains(t, r.Body, "<Code>BadDigest</Code>")
	r = objDo(t, h, testUser, http.MethodPut, "/parts/k?partNumber=1&uploadId="+id, []byte("data"), map[string]string{"Content-MD5": "x"})
	assert.Contains(t, r.Body, "<Code>InvalidDigest</Code>")
	lp, err := c.ListParts(ctx, &s3.ListPartsInput{Bucket: aws.String("parts"), Key: aws.String("k"), UploadId: up.UploadId})
	require.NoError(t, err)
	require.Len(t, lp.Parts, 1, "refused parts are not recorded")
	assert.Equal(t, int32(10000), aws.ToInt32(lp.Parts[0].PartNumber))
}

func TestMultipartCompleteErrors(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("cerr", false)
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("cerr"), Key: aws.String("k")})
	require.NoError(t, err)
	id := aws.ToString(up.UploadId)
	small := [][]byte{[]byte("one"), []byte("two")}
	etags := make([]string, 2)
	for i, p := range small {
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String("cerr"), Key: aws.String("k"), UploadId: up.UploadId,
			PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(p)})
		require.NoError(t, err)
		etags[i] = aws.ToString(out.ETag)
	}
	complete := func(parts ...s3types.CompletedPart) error {
		_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("cerr"), Key: aws.String("k"), UploadId: up.UploadId,
			MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}})
		return err
	}
	cp := func(n int32, etag string) s3types.CompletedPart {
		return s3types.CompletedPart{PartNumber: aws.Int32(n), ETag: aws.String(etag)}
	}
	assert.Equal(t, "InvalidPart", apiCode(complete(cp(1, etags[1]))), "wrong ETag")
	assert.Equal(t, "InvalidPart", apiCode(complete(cp(1, etags[0]), cp(3, etags[1]))), "part not uploaded")
	assert.Equal(t, "InvalidPartOrder", apiCode(complete(cp(2, etags[1]), cp(1, etags[0]))))
	assert.Equal(t, "InvalidPartOrder", apiCode(complete(cp(1, etags[0]), cp(1, etags[0]))))
	assert.Equal(t, "EntityTooSmall", apiCode(complete(cp(1, etags[0]), cp(2, etags[1]))))
	assert.Equal(t, "MalformedXML", apiCode(complete()))

	path := "/cerr/k?uploadId=" + id
	r := objDo(t, h, testUser, http.MethodPost, path, []byte("<CompleteMultipartUpload><Part>"), nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "<Code>MalformedXML</Code>")
	r = objDo(t, h, testUser, http.MethodPost, path, []byte("<Other/>"), nil)
	assert.Contains(t, r.Body, "<Code>MalformedXML</Code>")
	r = objDo(t, h, testUser, http.MethodPost, path, []byte("<CompleteMultipartUpload><Part><PartNumber>x</PartNumber></Part></CompleteMultipartUpload>"), nil)
	assert.Contains(t, r.Body, "<Code>MalformedXML</Code>")
	r = objDo(t, h, testUser, http.MethodPost, "/cerr/k?uploadId=nope", []byte("<CompleteMultipartUpload/>"), nil)
	assert.Equal(t, http.StatusNotFound, r.Status)
	assert.Contains(t, r.Body, "<Code>NoSuchUpload</Code>")

	// The upload survived every failed attempt; a single small last part is fine.
	require.NoError(t, complete(cp(2, etags[1])))
	body, _ := getString(t, c, "cerr", "k", "")
	assert.Equal(t, "two", body)
	lu, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("cerr")})
	require.NoError(t, err)
	assert.Empty(t, lu.Uploads)
}

func TestMultipartUploadPartCopy(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("pcopy", true)
	src := patterned(partSize+100, 7)
	put, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("pcopy"), Key: aws.String("src"), Body: bytes.NewReader(src)})
	require.NoError(t, err)
	putString(t, c, "pcopy", "src", "newer version")

	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("pcopy"), Key: aws.String("dst")})
	require.NoError(t, err)
	// Part 1: the whole old version (linked); part 2: a range of it (copied).
	p1, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(1), CopySource: aws.String("pcopy/src?versionId=" + aws.ToString(put.VersionId))})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(put.ETag), aws.ToString(p1.CopyPartResult.ETag))
	assert.Equal(t, aws.ToString(put.VersionId), aws.ToString(p1.CopySourceVersionId))
	assert.False(t, aws.ToTime(p1.CopyPartResult.LastModified).IsZero())
	p2, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(2), CopySource: aws.String("pcopy/src?versionId=" + aws.ToString(put.VersionId)), CopySourceRange: aws.String("bytes=10-109")})
	require.NoError(t, err)
	s := md5.Sum(src[10:110])
	assert.Equal(t, quoted(hex.EncodeToString(s[:])), aws.ToString(p2.CopyPartResult.ETag))

	for _, rg := range []string{"bytes=0-", "bytes=-5", "bytes=5-2", "items=0-1", "bytes=0-1,2-3"} {
		_, err := c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
			PartNumber: aws.Int32(3), CopySource: aws.String("pcopy/src"), CopySourceRange: aws.String(rg)})
		assert.Equal(t, "InvalidArgument", apiCode(err), rg)
	}
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String("pcopy/src"), CopySourceRange: aws.String("bytes=0-13")})
	assert.Equal(t, "InvalidArgument", apiCode(err), "past the end of the 13-byte current version")
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		PartNumber: aws.Int32(3), CopySource: aws.String("pcopy/src"), CopySourceIfMatch: aws.String(`"nope"`)})
	assert.Equal(t, "PreconditionFailed", apiCode(err))
	_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: aws.String("nope"),
		PartNumber: aws.Int32(3), CopySource: aws.String("pcopy/src")})
	assert.Equal(t, "NoSuchUpload", apiCode(err))

	done, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("pcopy"), Key: aws.String("dst"), UploadId: up.UploadId,
		MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: p1.CopyPartResult.ETag}, {PartNumber: aws.Int32(2), ETag: p2.CopyPartResult.ETag}}}})
	require.NoError(t, err)
	assert.Equal(t, multipartETag(src, src[10:110]), aws.ToString(done.ETag))
	body, _ := getString(t, c, "pcopy", "dst", "")
	assert.True(t, body == string(src)+string(src[10:110]), "part-copied data differs")
}

func TestMultipartReplicationPending(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.replicated("mprepl")
	uploadParts(t, c, "mprepl", "k", partSize, 10)
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("mprepl"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusPending, hd.ReplicationStatus)
}

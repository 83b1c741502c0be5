package s3server

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// seedVersion writes a version straight into the store (the bucket tests do not depend
// on the object handlers) and returns it.
func seedVersion(t *testing.T, h *harness, bucket, key, body string) *store.Version {
	t.Helper()
	w, err := h.srv.store.NewBlob()
	require.NoError(t, err)
	_, err = w.Write([]byte(body))
	require.NoError(t, err)
	id, size, err := w.Commit()
	require.NoError(t, err)
	etag := bodyETag(body)
	v, err := h.srv.store.PutObject(context.Background(), store.PutInput{
		Bucket: bucket, Key: key, Owner: testUser.Name,
		Parts: []store.Part{{Blob: id, Size: size, ETag: etag}}, ETag: etag, Size: size,
	})
	require.NoError(t, err)
	return v
}

// bodyETag is the ETag of a single-PUT object with this body (hex MD5).
func bodyETag(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}

// signedDo sends a request signed as acct with an arbitrary body (what the SDK would
// refuse to send) and returns the status and body of the answer.
func signedDo(t *testing.T, h *harness, acct Account, method, path, body string, header map[string]string) (int, string) {
	t.Helper()
	r := objDo(t, h, acct, method, path, []byte(body), header)
	return r.Status, r.Body
}

func TestBucketCreateListHeadDelete(t *testing.T) {
	h := newHarness(t)
	c, other := h.client(testUser), h.client(testOther)
	ctx := context.Background()

	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	assert.Empty(t, out.Buckets)
	assert.Equal(t, testUser.Name, aws.ToString(out.Owner.ID))

	cb, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	require.NoError(t, err)
	assert.Equal(t, "/alpha", aws.ToString(cb.Location))
	h.mkBucket("beta", false)
	_, err = other.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("gamma")})
	require.NoError(t, err)

	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "BucketAlreadyOwnedByYou", apiCode(err))
	_, err = other.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "BucketAlreadyExists", apiCode(err))

	out, err = c.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	var names []string
	for _, b := range out.Buckets {
		names = append(names, aws.ToString(b.Name))
		assert.False(t, aws.ToTime(b.CreationDate).IsZero())
		assert.Equal(t, "us-east-1", aws.ToString(b.BucketRegion))
	}
	assert.Equal(t, []string{"alpha", "beta"}, names, "only the caller's buckets")
	out, err = h.client(testRepl).ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	assert.Empty(t, out.Buckets, "the replication identity sees only buckets with a replication configuration")

	hb, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
	require.NoError(t, err)
	assert.Equal(t, "us-east-1", aws.ToString(hb.BucketRegion))
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("nope")})
	assert.Equal(t, "NotFound", apiCode(err))
	_, err = other.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "Forbidden", apiCode(err))
	_, err = other.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "AccessDenied", apiCode(err))

	seedVersion(t, h, "alpha", "k", "data")
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "BucketNotEmpty", apiCode(err))
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("alpha"), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("k")}}}})
	require.NoError(t, err)
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	require.NoError(t, err)
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "NotFound", apiCode(err))
	_, err = c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("alpha")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))
}

func TestBucketListPaginated(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	for _, n := range []string{"app-1", "app-2", "app-3", "db-1", "db-2"} {
		h.mkBucket(n, false)
	}
	var got []string
	var pages int
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{MaxBuckets: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		require.NoError(t, err)
		pages++
		for _, b := range out.Buckets {
			got = append(got, aws.ToString(b.Name))
		}
	}
	assert.Equal(t, []string{"app-1", "app-2", "app-3", "db-1", "db-2"}, got)
	assert.Equal(t, 3, pages)

	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{Prefix: aws.String("db-")})
	require.NoError(t, err)
	require.Len(t, out.Buckets, 2)
	assert.Equal(t, "db-1", aws.ToString(out.Buckets[0].Name))
	assert.Equal(t, "db-", aws.ToString(out.Prefix))

	out, err = c.ListBuckets(ctx, &s3.ListBucketsInput{BucketRegion: aws.String("eu-west-3")})
	require.NoError(t, err)
	assert.Empty(t, out.Buckets)

	_, err = c.ListBuckets(ctx, &s3.ListBucketsInput{MaxBuckets: aws.Int32(0)})
	assert.Equal(t, "InvalidArgument", apiCode(err))
}

func TestBucketInvalidNames(t *testing.T) {
	h := newHarness(t)
	for _, name := range []string{
		"ab", strings.Repeat("a", 64), "Upper", "under_score", "-start", "end-", ".start", "end.",
		"two..dots", "dot.-dash", "dash-.dot", "192.168.1.1", "xn--punycode", "sthree-x", "bucket-s3alias", "x--ol-s3",
	} {
		status, body := signedDo(t, h, testUser, http.MethodPut, "/"+name, "", nil)
		assert.Equal(t, http.StatusBadRequest, status, name)
		assert.Contains(t, body, "<Code>InvalidBucketName</Code>", name)
	}
	for _, name := range []string{"abc", strings.Repeat("a", 63), "my.bucket-1", "1234", "192.168.1.1.x"} {
		_, err := h.client(testUser).CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
		assert.NoError(t, err, name)
	}
}

func TestBucketLocation(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("here", false)
	loc, err := c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("here")})
	require.NoError(t, err)
	assert.Equal(t, s3types.BucketLocationConstraint(""), loc.LocationConstraint, "us-east-1 is empty, as S3")

	_, err = c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("there"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	assert.Equal(t, "IllegalLocationConstraintException", apiCode(err))

	status, body := signedDo(t, h, testUser, http.MethodPut, "/there", "<CreateBucketConfiguration><LocationConstraint>", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "MalformedXML")

	eu := newHarness(t, func(c *Config) { c.Region = "eu-west-1" })
	ec := eu.client(testUser)
	_, err = ec.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("there"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1}})
	require.NoError(t, err)
	loc, err = ec.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("there")})
	require.NoError(t, err)
	assert.Equal(t, s3types.BucketLocationConstraintEuWest1, loc.LocationConstraint)

	status, body = signedDo(t, h, testUser, http.MethodGet, "/here?location", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></LocationConstraint>`)
}

func TestBucketVersioning(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("vbucket", false)
	get := func() s3types.BucketVersioningStatus {
		t.Helper()
		out, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("vbucket")})
		require.NoError(t, err)
		return out.Status
	}
	put := func(status s3types.BucketVersioningStatus, mfa s3types.MFADelete) error {
		_, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("vbucket"),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: status, MFADelete: mfa}})
		return err
	}
	assert.Equal(t, s3types.BucketVersioningStatus(""), get(), "never versioned")
	status, body := signedDo(t, h, testUser, http.MethodGet, "/vbucket?versioning", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`)

	require.NoError(t, put(s3types.BucketVersioningStatusEnabled, ""))
	assert.Equal(t, s3types.BucketVersioningStatusEnabled, get())
	require.NoError(t, put(s3types.BucketVersioningStatusSuspended, s3types.MFADeleteDisabled))
	assert.Equal(t, s3types.BucketVersioningStatusSuspended, get())
	assert.Equal(t, "MalformedXML", apiCode(put("Off", "")), "never back to unversioned")
	assert.Equal(t, "MalformedXML", apiCode(put("", "")))
	assert.Equal(t, "NotImplemented", apiCode(put(s3types.BucketVersioningStatusEnabled, s3types.MFADeleteEnabled)))
	assert.Equal(t, s3types.BucketVersioningStatusSuspended, get())

	status, body = signedDo(t, h, testUser, http.MethodPut, "/vbucket?versioning", "<VersioningConfiguration><Status>Enabled", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "MalformedXML")

	_, err := h.client(testOther).GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("vbucket")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("missing")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))
}

func TestBucketTagging(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("tbucket", false)
	_, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tbucket")})
	assert.Equal(t, "NoSuchTagSet", apiCode(err))

	put := func(tags ...string) error {
		var set []s3types.Tag
		for i := 0; i+1 < len(tags); i += 2 {
			set = append(set, s3types.Tag{Key: aws.String(tags[i]), Value: aws.String(tags[i+1])})
		}
		_, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("tbucket"), Tagging: &s3types.Tagging{TagSet: set}})
		return err
	}
	require.NoError(t, put("team", "storage", "env", "test"))
	out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tbucket")})
	require.NoError(t, err)
	require.Len(t, out.TagSet, 2)
	assert.Equal(t, "env", aws.ToString(out.TagSet[0].Key))
	assert.Equal(t, "test", aws.ToString(out.TagSet[0].Value))

	assert.Equal(t, "InvalidTag", apiCode(put("aws:system", "x")))
	assert.Equal(t, "InvalidTag", apiCode(put("k", "1", "k", "2")))
	assert.Equal(t, "InvalidTag", apiCode(put("", "v")))
	many := []string{}
	for i := 0; i <= maxBucketTags; i++ {
		many = append(many, fmt.Sprintf("k%d", i), "v")
	}
	assert.Equal(t, "InvalidTag", apiCode(put(many...)))
	assert.Equal(t, "InvalidTag", apiCode(put("k", strings.Repeat("v", 257))))

	_, err = c.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String("tbucket")})
	require.NoError(t, err)
	_, err = c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String("tbucket")})
	assert.Equal(t, "NoSuchTagSet", apiCode(err))

	status, body := signedDo(t, h, testUser, http.MethodPut, "/tbucket?tagging", "<Tagging><TagSet>", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "MalformedXML")
	doc := `<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`
	status, body = signedDo(t, h, testUser, http.MethodPut, "/tbucket?tagging", doc, map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "BadDigest")
	status, _ = signedDo(t, h, testUser, http.MethodPut, "/tbucket?tagging", doc, map[string]string{"Content-MD5": func() string { m := md5.Sum([]byte(doc)); return base64.StdEncoding.EncodeToString(m[:]) }()})
	assert.Equal(t, http.StatusNoContent, status)
	status, body = signedDo(t, h, testUser, http.MethodGet, "/tbucket?tagging", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, `<Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`)
}

func TestDeleteObjects(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("ver", true)
	v1 := seedVersion(t, h, "ver", "a", "one")
	v2 := seedVersion(t, h, "ver", "a", "two")
	seedVersion(t, h, "ver", "b", "b")

	del := func(quiet bool, ids ...s3types.ObjectIdentifier) *s3.DeleteObjectsOutput {
		t.Helper()
		out, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ver"), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(quiet)}})
		require.NoError(t, err)
		return out
	}
	out := del(false,
		s3types.ObjectIdentifier{Key: aws.String("a"), VersionId: aws.String(v1.VersionID)},
		s3types.ObjectIdentifier{Key: aws.String("b")},
		s3types.ObjectIdentifier{Key: aws.String("never-existed")},
	)
	require.Len(t, out.Deleted, 3)
	assert.Empty(t, out.Errors)
	assert.Equal(t, "a", aws.ToString(out.Deleted[0].Key))
	assert.Equal(t, v1.VersionID, aws.ToString(out.Deleted[0].VersionId))
	assert.False(t, aws.ToBool(out.Deleted[0].DeleteMarker))
	assert.Equal(t, "b", aws.ToString(out.Deleted[1].Key))
	assert.True(t, aws.ToBool(out.Deleted[1].DeleteMarker), "a versioned delete writes a delete marker")
	markerID := aws.ToString(out.Deleted[1].DeleteMarkerVersionId)
	assert.NotEmpty(t, markerID)
	assert.Empty(t, aws.ToString(out.Deleted[1].VersionId))
	assert.True(t, aws.ToBool(out.Deleted[2].DeleteMarker))

	// Removing the delete marker by id brings b back.
	out = del(false, s3types.ObjectIdentifier{Key: aws.String("b"), VersionId: aws.String(markerID)})
	require.Len(t, out.Deleted, 1)
	assert.True(t, aws.ToBool(out.Deleted[0].DeleteMarker))
	assert.Equal(t, markerID, aws.ToString(out.Deleted[0].DeleteMarkerVersionId))
	assert.Equal(t, markerID, aws.ToString(out.Deleted[0].VersionId))
	latest, err := h.srv.store.GetVersion(ctx, "ver", "b", "")
	require.NoError(t, err)
	assert.False(t, latest.IsDeleteMarker)

	out = del(true, s3types.ObjectIdentifier{Key: aws.String("a"), VersionId: aws.String(v2.VersionID)})
	assert.Empty(t, out.Deleted, "quiet")
	assert.Empty(t, out.Errors)
	_, err = h.srv.store.GetVersion(ctx, "ver", "a", "")
	assert.ErrorIs(t, err, store.ErrNoSuchKey)

	// Per-key errors.
	out = del(false, s3types.ObjectIdentifier{Key: aws.String(strings.Repeat("k", store.MaxKeyLength+1))}, s3types.ObjectIdentifier{Key: aws.String("ok")})
	require.Len(t, out.Errors, 1)
	assert.Equal(t, "KeyTooLongError", aws.ToString(out.Errors[0].Code))
	require.Len(t, out.Deleted, 1)

	// Request-level errors.
	var many []s3types.ObjectIdentifier
	for i := 0; i <= maxDeleteObjects; i++ {
		many = append(many, s3types.ObjectIdentifier{Key: aws.String(fmt.Sprint(i))})
	}
	_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ver"), Delete: &s3types.Delete{Objects: many}})
	assert.Equal(t, "MalformedXML", apiCode(err))
	status, body := signedDo(t, h, testUser, http.MethodPost, "/ver?delete", "<Delete></Delete>", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "MalformedXML")
	_, err = h.client(testOther).DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("ver"), Delete: &s3types.Delete{Objects: many[:1]}})
	assert.Equal(t, "AccessDenied", apiCode(err))

	// Unversioned bucket: the object is removed, no marker.
	h.mkBucket("plain", false)
	seedVersion(t, h, "plain", "x", "x")
	out, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("plain"), Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("x")}}}})
	require.NoError(t, err)
	require.Len(t, out.Deleted, 1)
	assert.False(t, aws.ToBool(out.Deleted[0].DeleteMarker))
	_, err = h.srv.store.GetVersion(ctx, "plain", "x", "")
	assert.ErrorIs(t, err, store.ErrNoSuchKey)
}

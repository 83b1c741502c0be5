package s3server

import (
	"context"
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

// listFixture makes versioned bucket "lbucket": a (2 versions), b/1, b/2, b/3/x, "c d+e", dir/,
// gone (deleted: a delete marker is its latest version), z.
func listFixture(t *testing.T) (*harness, *s3.Client) {
	h := newHarness(t)
	h.mkBucket("lbucket", true)
	for _, k := range []string{"a", "a", "b/1", "b/2", "b/3/x", "c d+e", "dir/", "gone", "z"} {
		seedVersion(t, h, "lbucket", k, "body of "+k)
	}
	_, err := h.srv.store.DeleteObject(context.Background(), "lbucket", "gone", "")
	require.NoError(t, err)
	return h, h.client(testUser)
}

// v2Names returns the keys and common prefixes of a ListObjectsV2 page, in order of
// kind (keys, then prefixes).
func v2Names(out *s3.ListObjectsV2Output) (keys, prefixes []string) {
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	for _, p := range out.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	return keys, prefixes
}

func TestListObjectsV2(t *testing.T) {
	h, c := listFixture(t)
	ctx := context.Background()
	list := func(in s3.ListObjectsV2Input) *s3.ListObjectsV2Output {
		t.Helper()
		in.Bucket = aws.String("lbucket")
		out, err := c.ListObjectsV2(ctx, &in)
		require.NoError(t, err)
		return out
	}
	out := list(s3.ListObjectsV2Input{})
	keys, prefixes := v2Names(out)
	assert.Equal(t, []string{"a", "b/1", "b/2", "b/3/x", "c d+e", "dir/", "z"}, keys, "a deleted key is not listed")
	assert.Empty(t, prefixes)
	assert.Equal(t, int32(7), aws.ToInt32(out.KeyCount))
	assert.Equal(t, int32(1000), aws.ToInt32(out.MaxKeys))
	assert.False(t, aws.ToBool(out.IsTruncated))
	assert.Nil(t, out.Contents[0].Owner, "no owner without fetch-owner")
	assert.Equal(t, `"`+bodyETag("body of a")+`"`, aws.ToString(out.Contents[0].ETag))
	assert.Equal(t, int64(len("body of a")), aws.ToInt64(out.Contents[0].Size))
	assert.Equal(t, s3types.ObjectStorageClassStandard, out.Contents[0].StorageClass)
	assert.False(t, aws.ToTime(out.Contents[0].LastModified).IsZero())

	out = list(s3.ListObjectsV2Input{Delimiter: aws.String("/"), FetchOwner: aws.Bool(true)})
	keys, prefixes = v2Names(out)
	assert.Equal(t, []string{"a", "c d+e", "z"}, keys)
	assert.Equal(t, []string{"b/", "dir/"}, prefixes)
	assert.Equal(t, int32(5), aws.ToInt32(out.KeyCount))
	assert.Equal(t, testUser.Name, aws.ToString(out.Contents[0].Owner.ID))
	assert.Equal(t, "/", aws.ToString(out.Delimiter))

	out = list(s3.ListObjectsV2Input{Prefix: aws.String("b/"), Delimiter: aws.String("/")})
	keys, prefixes = v2Names(out)
	assert.Equal(t, []string{"b/1", "b/2"}, keys)
	assert.Equal(t, []string{"b/3/"}, prefixes)
	assert.Equal(t, "b/", aws.ToString(out.Prefix))

	out = list(s3.ListObjectsV2Input{StartAfter: aws.String("b/2")})
	keys, _ = v2Names(out)
	assert.Equal(t, []string{"b/3/x", "c d+e", "dir/", "z"}, keys)
	assert.Equal(t, "b/2", aws.ToString(out.StartAfter))

	out = list(s3.ListObjectsV2Input{MaxKeys: aws.Int32(0)})
	assert.Empty(t, out.Contents)
	assert.False(t, aws.ToBool(out.IsTruncated))

	// Pages of every size, with and without a delimiter, add up to the whole listing.
	for _, delim := range []string{"", "/"} {
		full := list(s3.ListObjectsV2Input{Delimiter: aws.String(delim)})
		wantKeys, wantPrefixes := v2Names(full)
		for size := int32(1); size <= 4; size++ {
			var gotKeys, gotPrefixes []string
			p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("lbucket"), Delimiter: aws.String(delim), MaxKeys: aws.Int32(size)})
			pages := 0
			for p.HasMorePages() {
				page, err := p.NextPage(ctx)
				require.NoError(t, err)
				pages++
				k, pr := v2Names(page)
				assert.LessOrEqual(t, len(k)+len(pr), int(size))
				assert.Equal(t, int32(len(k)+len(pr)), aws.ToInt32(page.KeyCount))
				if aws.ToBool(page.IsTruncated) {
					assert.NotEmpty(t, aws.ToString(page.NextContinuationToken))
				}
				gotKeys, gotPrefixes = append(gotKeys, k...), append(gotPrefixes, pr...)
			}
			assert.Equal(t, wantKeys, gotKeys, "delimiter %q, page size %d", delim, size)
			assert.Equal(t, wantPrefixes, gotPrefixes, "delimiter %q, page size %d", delim, size)
			assert.Equal(t, (len(wantKeys)+len(wantPrefixes)+int(size)-1)/int(size), pages)
		}
	}

	out = list(s3.ListObjectsV2Input{ContinuationToken: aws.String(""), StartAfter: aws.String("c")})
	keys, _ = v2Names(out)
	assert.Equal(t, []string{"c d+e", "dir/", "z"}, keys, "an empty continuation token lists from start-after")
	require.NotNil(t, out.ContinuationToken)
	assert.Equal(t, "", aws.ToString(out.ContinuationToken))
	out = list(s3.ListObjectsV2Input{MaxKeys: aws.Int32(1)})
	token := out.NextContinuationToken
	out = list(s3.ListObjectsV2Input{ContinuationToken: token, StartAfter: aws.String("zzz")})
	keys, _ = v2Names(out)
	assert.Equal(t, "b/1", keys[0], "the token wins over start-after")
	assert.Equal(t, aws.ToString(token), aws.ToString(out.ContinuationToken))
	assert.Equal(t, "zzz", aws.ToString(out.StartAfter))

	_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lbucket"), ContinuationToken: aws.String("%%%")})
	assert.Equal(t, "InvalidArgument", apiCode(err))
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lbucket"), EncodingType: "gzip"})
	assert.Equal(t, "InvalidArgument", apiCode(err))
	_, err = h.client(testOther).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("lbucket")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("none")})
	assert.Equal(t, "NoSuchBucket", apiCode(err))

	// encoding-type=url (the Go SDK does not decode: the answer is seen as sent).
	out = list(s3.ListObjectsV2Input{Prefix: aws.String("c "), EncodingType: s3types.EncodingTypeUrl})
	keys, _ = v2Names(out)
	assert.Equal(t, []string{"c+d%2Be"}, keys)
	assert.Equal(t, "c+", aws.ToString(out.Prefix))
	assert.Equal(t, s3types.EncodingTypeUrl, out.EncodingType)
	out = list(s3.ListObjectsV2Input{Delimiter: aws.String("/"), Prefix: aws.String("b/"), EncodingType: s3types.EncodingTypeUrl})
	_, prefixes = v2Names(out)
	assert.Equal(t, []string{"b/3/"}, prefixes, "'/' is kept")

	status, body := signedDo(t, h, testUser, http.MethodGet, "/lbucket?list-type=2&max-keys=2", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>lbucket</Name><Prefix></Prefix>`), body)
	assert.Contains(t, body, "<KeyCount>2</KeyCount><MaxKeys>2</MaxKeys><IsTruncated>true</IsTruncated>")
	assert.NotContains(t, body, "<Marker>")
	assert.Contains(t, body, "<ETag>&quot;"+bodyETag("body of a")+"&quot;</ETag><Size>9</Size><StorageClass>STANDARD</StorageClass>")
	assert.Regexp(t, `<LastModified>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z</LastModified>`, body)
	for _, bad := range []string{"abc", "-1"} {
		status, body = signedDo(t, h, testUser, http.MethodGet, "/lbucket?list-type=2&max-keys="+bad, "", nil)
		assert.Equal(t, http.StatusBadRequest, status)
		assert.Contains(t, body, "<Code>InvalidArgument</Code>")
	}
	status, body = signedDo(t, h, testUser, http.MethodGet, "/lbucket?list-type=2&max-keys=5000", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "<MaxKeys>1000</MaxKeys>")
}

func TestListObjectsV1(t *testing.T) {
	h, c := listFixture(t)
	ctx := context.Background()
	list := func(in s3.ListObjectsInput) *s3.ListObjectsOutput {
		t.Helper()
		in.Bucket = aws.String("lbucket")
		out, err := c.ListObjects(ctx, &in)
		require.NoError(t, err)
		return out
	}
	names := func(out *s3.ListObjectsOutput) (keys, prefixes []string) {
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		for _, p := range out.CommonPrefixes {
			prefixes = append(prefixes, aws.ToString(p.Prefix))
		}
		return keys, prefixes
	}
	out := list(s3.ListObjectsInput{})
	keys, _ := names(out)
	assert.Equal(t, []string{"a", "b/1", "b/2", "b/3/x", "c d+e", "dir/", "z"}, keys)
	assert.Equal(t, testUser.Name, aws.ToString(out.Contents[0].Owner.ID), "V1 always has the owner")
	assert.Equal(t, testUser.Name, aws.ToString(out.Contents[0].Owner.DisplayName))

	out = list(s3.ListObjectsInput{Marker: aws.String("b/1")})
	keys, _ = names(out)
	assert.Equal(t, []string{"b/2", "b/3/x", "c d+e", "dir/", "z"}, keys)
	assert.Equal(t, "b/1", aws.ToString(out.Marker))

	// Without a delimiter there is no NextMarker: the next marker is the last key.
	out = list(s3.ListObjectsInput{MaxKeys: aws.Int32(2)})
	assert.True(t, aws.ToBool(out.IsTruncated))
	assert.Nil(t, out.NextMarker)
	keys, _ = names(out)
	assert.Equal(t, []string{"a", "b/1"}, keys)

	// With a delimiter, NextMarker is the last key or common prefix; paging by it.
	var gotKeys, gotPrefixes []string
	marker := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		out = list(s3.ListObjectsInput{Delimiter: aws.String("/"), MaxKeys: aws.Int32(1), Marker: aws.String(marker)})
		k, p := names(out)
		gotKeys, gotPrefixes = append(gotKeys, k...), append(gotPrefixes, p...)
		if !aws.ToBool(out.IsTruncated) {
			assert.Nil(t, out.NextMarker)
			break
		}
		marker = aws.ToString(out.NextMarker)
		require.NotEmpty(t, marker)
	}
	assert.Equal(t, []string{"a", "c d+e", "z"}, gotKeys)
	assert.Equal(t, []string{"b/", "dir/"}, gotPrefixes)

	// A marker equal to a common prefix skips the keys under it.
	out = list(s3.ListObjectsInput{Delimiter: aws.String("/"), Marker: aws.String("b/")})
	keys, prefixes := names(out)
	assert.Equal(t, []string{"c d+e", "z"}, keys)
	assert.Equal(t, []string{"dir/"}, prefixes)

	status, body := signedDo(t, h, testUser, http.MethodGet, "/lbucket?marker=a%20b&encoding-type=url&prefix=%2B", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "<Prefix>%2B</Prefix><Marker>a+b</Marker>")
	assert.Contains(t, body, "<EncodingType>url</EncodingType>")
}

func TestListObjectVersions(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("vbucket", true)
	a1 := seedVersion(t, h, "vbucket", "a", "a1")
	a2 := seedVersion(t, h, "vbucket", "a", "a2")
	b1 := seedVersion(t, h, "vbucket", "b", "b1")
	dm, err := h.srv.store.DeleteObject(ctx, "vbucket", "b", "")
	require.NoError(t, err)
	cx := seedVersion(t, h, "vbucket", "c/x", "cx")
	cy := seedVersion(t, h, "vbucket", "c/y", "cy")

	type entry struct {
		key, id string
		latest  bool
		marker  bool
	}
	// entries merges an answer's versions and delete markers in key, then newest-first
	// order, as the XML has them.
	entries := func(out *s3.ListObjectVersionsOutput) []entry {
		var es []entry
		for _, v := range out.Versions {
			es = append(es, entry{aws.ToString(v.Key), aws.ToString(v.VersionId), aws.ToBool(v.IsLatest), false})
		}
		for _, d := range out.DeleteMarkers {
			es = append(es, entry{aws.ToString(d.Key), aws.ToString(d.VersionId), aws.ToBool(d.IsLatest), true})
		}
		return es
	}
	out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket")})
	require.NoError(t, err)
	assert.ElementsMatch(t, []entry{
		{"a", a2.VersionID, true, false}, {"a", a1.VersionID, false, false},
		{"b", dm.VersionID, true, true}, {"b", b1.VersionID, false, false},
		{"c/x", cx.VersionID, true, false}, {"c/y", cy.VersionID, true, false},
	}, entries(out))
	assert.Equal(t, `"`+bodyETag("a2")+`"`, aws.ToString(out.Versions[0].ETag))
	assert.Equal(t, int64(2), aws.ToInt64(out.Versions[0].Size))
	assert.Equal(t, testUser.Name, aws.ToString(out.DeleteMarkers[0].Owner.ID))

	// The XML interleaves Version and DeleteMarker in listing order.
	status, body := signedDo(t, h, testUser, http.MethodGet, "/vbucket?versions", "", nil)
	require.Equal(t, http.StatusOK, status)
	order := []string{"<Version><Key>a</Key><VersionId>" + a2.VersionID, "<Version><Key>a</Key><VersionId>" + a1.VersionID,
		"<DeleteMarker><Key>b</Key><VersionId>" + dm.VersionID, "<Version><Key>b</Key><VersionId>" + b1.VersionID,
		"<Version><Key>c/x</Key>"}
	last := -1
	for _, o := range order {
		i := strings.Index(body, o)
		require.Greater(t, i, last, "%s in %s", o, body)
		last = i
	}
	assert.Contains(t, body, `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>vbucket</Name><Prefix></Prefix><KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>`)
	assert.NotContains(t, body, "<DeleteMarker><Key>b</Key><VersionId>"+dm.VersionID+"</VersionId><IsLatest>true</IsLatest><LastModified>x</LastModified><ETag>")

	// Pages of one entry, by NextKeyMarker/NextVersionIdMarker, give the same entries.
	var paged []entry
	in := &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), MaxKeys: aws.Int32(1)}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := c.ListObjectVersions(ctx, in)
		require.NoError(t, err)
		es := entries(page)
		require.Len(t, es, 1)
		paged = append(paged, es...)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.VersionIdMarker = page.NextKeyMarker, page.NextVersionIdMarker
		assert.Equal(t, es[0].key, aws.ToString(page.NextKeyMarker))
		assert.Equal(t, es[0].id, aws.ToString(page.NextVersionIdMarker))
	}
	assert.Equal(t, []entry{
		{"a", a2.VersionID, true, false}, {"a", a1.VersionID, false, false},
		{"b", dm.VersionID, true, true}, {"b", b1.VersionID, false, false},
		{"c/x", cx.VersionID, true, false}, {"c/y", cy.VersionID, true, false},
	}, paged)

	// Delimiter: c/ rolls up; a page can end on it.
	out, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), Delimiter: aws.String("/"), KeyMarker: aws.String("b"), MaxKeys: aws.Int32(1)})
	require.NoError(t, err)
	assert.Empty(t, entries(out))
	require.Len(t, out.CommonPrefixes, 1)
	assert.Equal(t, "c/", aws.ToString(out.CommonPrefixes[0].Prefix))
	assert.False(t, aws.ToBool(out.IsTruncated))
	out, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), Delimiter: aws.String("/"), MaxKeys: aws.Int32(4)})
	require.NoError(t, err)
	assert.Len(t, entries(out), 4)
	assert.Empty(t, out.CommonPrefixes)
	assert.True(t, aws.ToBool(out.IsTruncated))
	out, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), Delimiter: aws.String("/"), KeyMarker: out.NextKeyMarker, VersionIdMarker: out.NextVersionIdMarker})
	require.NoError(t, err)
	assert.Empty(t, entries(out))
	require.Len(t, out.CommonPrefixes, 1)

	// key-marker alone skips every version of that key; prefix.
	out, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), KeyMarker: aws.String("a")})
	require.NoError(t, err)
	assert.Len(t, entries(out), 4)
	out, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), Prefix: aws.String("c/")})
	require.NoError(t, err)
	assert.Len(t, entries(out), 2)

	_, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket"), VersionIdMarker: aws.String(a1.VersionID)})
	assert.Equal(t, "InvalidArgument", apiCode(err))
	_, err = h.client(testOther).ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("vbucket")})
	assert.Equal(t, "AccessDenied", apiCode(err))
}

func TestListMultipartUploads(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("mbucket", false)
	type up struct{ key, id string }
	var all []up
	for _, k := range []string{"x/1", "x/1", "x/2", "y"} {
		u, err := h.srv.store.CreateUpload(ctx, "mbucket", k, testUser.Name, store.ObjectMeta{})
		require.NoError(t, err)
		all = append(all, up{k, u.ID})
	}
	ups := func(out *s3.ListMultipartUploadsOutput) []up {
		var r []up
		for _, u := range out.Uploads {
			r = append(r, up{aws.ToString(u.Key), aws.ToString(u.UploadId)})
		}
		return r
	}
	out, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mbucket")})
	require.NoError(t, err)
	got := ups(out)
	require.Len(t, got, 4)
	assert.Equal(t, []string{"x/1", "x/1", "x/2", "y"}, []string{got[0].key, got[1].key, got[2].key, got[3].key})
	assert.ElementsMatch(t, all, got)
	assert.Equal(t, testUser.Name, aws.ToString(out.Uploads[0].Initiator.ID))
	assert.Equal(t, testUser.Name, aws.ToString(out.Uploads[0].Owner.DisplayName))
	assert.False(t, aws.ToTime(out.Uploads[0].Initiated).IsZero())
	assert.Equal(t, s3types.StorageClassStandard, out.Uploads[0].StorageClass)
	assert.Equal(t, int32(1000), aws.ToInt32(out.MaxUploads))

	var paged []up
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String("mbucket"), MaxUploads: aws.Int32(1)}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 10)
		page, err := c.ListMultipartUploads(ctx, in)
		require.NoError(t, err)
		paged = append(paged, ups(page)...)
		if !aws.ToBool(page.IsTruncated) {
			break
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
	assert.Equal(t, got, paged)

	out, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mbucket"), Delimiter: aws.String("/")})
	require.NoError(t, err)
	assert.Equal(t, []up{{"y", got[3].id}}, ups(out))
	require.Len(t, out.CommonPrefixes, 1)
	assert.Equal(t, "x/", aws.ToString(out.CommonPrefixes[0].Prefix))

	out, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mbucket"), Prefix: aws.String("x/"), KeyMarker: aws.String("x/1")})
	require.NoError(t, err)
	assert.Equal(t, []up{got[2]}, ups(out), "key-marker alone: later keys only")
	out, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mbucket"), KeyMarker: aws.String("x/1"), UploadIdMarker: aws.String(got[0].id)})
	require.NoError(t, err)
	assert.Equal(t, got[1:], ups(out))

	_, err = c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("mbucket"), MaxUploads: aws.Int32(-1)})
	assert.Equal(t, "InvalidArgument", apiCode(err))
}

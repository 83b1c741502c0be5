package s3server

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tagSet builds an SDK Tagging from key/value pairs.
func tagSet(kv ...string) *s3types.Tagging {
	t := &s3types.Tagging{TagSet: []s3types.Tag{}}
	for i := 0; i+1 < len(kv); i += 2 {
		t.TagSet = append(t.TagSet, s3types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return t
}

// tagMap reads the tags of a GetObjectTagging answer.
func tagMap(out *s3.GetObjectTaggingOutput) map[string]string {
	m := map[string]string{}
	for _, t := range out.TagSet {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func TestObjectTaggingVersions(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("tags", true)
	v1, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tags"), Key: aws.String("k"), Body: strings.NewReader("1"), Tagging: aws.String("from=header")})
	require.NoError(t, err)
	v2 := putString(t, c, "tags", "k", "2")

	out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: v1.VersionId})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"from": "header"}, tagMap(out))
	assert.Equal(t, aws.ToString(v1.VersionId), aws.ToString(out.VersionId))
	out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Empty(t, out.TagSet)
	assert.Equal(t, aws.ToString(v2.VersionId), aws.ToString(out.VersionId))

	// PUT on the latest, then on the old version by id.
	pt, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), Tagging: tagSet("a", "1", "b", "")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(v2.VersionId), aws.ToString(pt.VersionId))
	pt, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: v1.VersionId, Tagging: tagSet("old", "yes")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(v1.VersionId), aws.ToString(pt.VersionId))
	out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"a": "1", "b": ""}, tagMap(out))
	out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: v1.VersionId})
	require.NoError(t, err)
	assert.Equal(t, map[string]string{"old": "yes"}, tagMap(out))
	_, got := getString(t, c, "tags", "k", "")
	assert.Equal(t, int32(2), aws.ToInt32(got.TagCount))

	// DELETE removes the latest's tags only.
	dt, err := c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Equal(t, aws.ToString(v2.VersionId), aws.ToString(dt.VersionId))
	out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Empty(t, out.TagSet)
	out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: v1.VersionId})
	require.NoError(t, err)
	assert.Len(t, out.TagSet, 1)
	r := objDo(t, h, testUser, http.MethodDelete, "/tags/k?tagging&versionId="+aws.ToString(v1.VersionId), nil, nil)
	assert.Equal(t, http.StatusNoContent, r.Status)
	assert.Equal(t, aws.ToString(v1.VersionId), r.Header.Get("x-amz-version-id"))

	// Missing key, version; delete markers.
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("missing")})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("missing"), Tagging: tagSet("a", "1")})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: aws.String(strings.Repeat("0", 32))})
	assert.Equal(t, "NoSuchVersion", apiCode(err))
	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	require.NoError(t, err)
	_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k")})
	assert.Equal(t, "NoSuchKey", apiCode(err))
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tags"), Key: aws.String("k"), VersionId: del.VersionId, Tagging: tagSet("a", "1")})
	assert.Equal(t, "MethodNotAllowed", apiCode(err))
}

func TestObjectTaggingValidation(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("tagv", false)
	putString(t, c, "tagv", "k", "data")

	var ten, eleven []string
	for i := range 11 {
		if i < 10 {
			ten = append(ten, fmt.Sprint("k", i), "v")
		}
		eleven = append(eleven, fmt.Sprint("k", i), "v")
	}
	_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tagv"), Key: aws.String("k"), Tagging: tagSet(ten...)})
	require.NoError(t, err)
	out, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tagv"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Len(t, out.TagSet, 10)
	assert.Nil(t, out.VersionId, "an unversioned bucket shows no version id")

	bad := []struct {
		name string
		tags *s3types.Tagging
		code string
	}{
		{"eleven tags", tagSet(eleven...), "BadRequest"},
		{"long key", tagSet(strings.Repeat("k", 129), "v"), "InvalidTag"},
		{"long value", tagSet("k", strings.Repeat("v", 257)), "InvalidTag"},
		{"empty key", tagSet("", "v"), "InvalidTag"},
		{"duplicate key", tagSet("k", "1", "k", "2"), "InvalidTag"},
		{"system tag", tagSet("aws:x", "1"), "InvalidTag"},
	}
	for _, tc := range bad {
		_, err := c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("tagv"), Key: aws.String("k"), Tagging: tc.tags})
		assert.Equal(t, tc.code, apiCode(err), tc.name)
	}
	r := objDo(t, h, testUser, http.MethodPut, "/tagv/k?tagging", []byte("<Tagging><TagSet><Tag>"), nil)
	assert.Equal(t, http.StatusBadRequest, r.Status)
	assert.Contains(t, r.Body, "<Code>MalformedXML</Code>")
	r = objDo(t, h, testUser, http.MethodPut, "/tagv/k?tagging", []byte(`<Tagging><TagSet></TagSet></Tagging>`), map[string]string{"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="})
	assert.Contains(t, r.Body, "<Code>BadDigest</Code>")
	out, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("tagv"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Len(t, out.TagSet, 10, "refused requests changed nothing")

	var pairs []string
	for i := 0; i < len(eleven); i += 2 {
		pairs = append(pairs, eleven[i]+"="+eleven[i+1])
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagv"), Key: aws.String("h"), Body: strings.NewReader("x"), Tagging: aws.String(strings.Join(pairs, "&"))})
	assert.Equal(t, "BadRequest", apiCode(err), "eleven tags in x-amz-tagging")
	_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("tagv"), Key: aws.String("h"), Body: strings.NewReader("x"), Tagging: aws.String("a=1&a=2")})
	assert.Equal(t, "InvalidArgument", apiCode(err), "duplicate tag in x-amz-tagging")
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("tagv"), Key: aws.String("h")})
	assert.Equal(t, "NotFound", apiCode(err))
}

func TestObjectTaggingReplication(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.replicated("trepl")
	put := putString(t, c, "trepl", "k", "data")
	_, err := h.srv.store.SetReplicationStatus(ctx, "trepl", "k", aws.ToString(put.VersionId), bbproto.StatusCompleted, "")
	require.NoError(t, err)
	hd, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trepl"), Key: aws.String("k")})
	require.NoError(t, err)
	require.Equal(t, s3types.ReplicationStatus(bbproto.StatusCompleted), hd.ReplicationStatus)

	// A tag change is journaled and makes the version PENDING again (metadata only).
	_, err = c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("trepl"), Key: aws.String("k"), Tagging: tagSet("a", "1")})
	require.NoError(t, err)
	hd, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("trepl"), Key: aws.String("k")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusPending, hd.ReplicationStatus)
	recs, _, err := h.srv.store.ReadJournal(ctx, 0, 1000)
	require.NoError(t, err)
	last := recs[len(recs)-1]
	assert.Equal(t, bbproto.OpMetadata, last.Op)
	assert.Equal(t, map[string]string{"a": "1"}, last.Tags)
	require.NotNil(t, last.Replication)
	assert.Equal(t, []bbproto.Content{bbproto.ContentMetadata}, last.Replication.Content)
}

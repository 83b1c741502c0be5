package s3server

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

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

// quickstartReplication is the seed quickstart's configuration (AWS CLI JSON form).
func quickstartReplication() *s3types.ReplicationConfiguration {
	return &s3types.ReplicationConfiguration{
		Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
		Rules: []s3types.ReplicationRule{{
			ID: aws.String("all"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
			Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::target-bucket")},
		}},
	}
}

func TestReplicationPutGetDelete(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("source-bucket", true)
	h.mkBucket("unversioned", false)
	h.mkBucket("target-bucket", true)

	_, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("source-bucket")})
	assert.Equal(t, "ReplicationConfigurationNotFoundError", apiCode(err))

	_, err = c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("unversioned"), ReplicationConfiguration: quickstartReplication()})
	assert.Equal(t, "InvalidRequest", apiCode(err))
	assert.Contains(t, err.Error(), "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
	h.mkBucket("suspended", false)
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("suspended"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	require.NoError(t, err)
	_, err = c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("suspended"), ReplicationConfiguration: quickstartReplication()})
	assert.Equal(t, "InvalidRequest", apiCode(err))

	_, err = c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("source-bucket"), ReplicationConfiguration: quickstartReplication()})
	require.NoError(t, err)
	out, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("source-bucket")})
	require.NoError(t, err)
	rc := out.ReplicationConfiguration
	assert.Equal(t, "arn:aws:iam::000000000000:role/backbeat", aws.ToString(rc.Role))
	require.Len(t, rc.Rules, 1)
	assert.Equal(t, "all", aws.ToString(rc.Rules[0].ID))
	assert.Equal(t, s3types.ReplicationRuleStatusEnabled, rc.Rules[0].Status)
	assert.Equal(t, "arn:aws:s3:::target-bucket", aws.ToString(rc.Rules[0].Destination.Bucket))
	require.NotNil(t, rc.Rules[0].Prefix)
	assert.Equal(t, "", aws.ToString(rc.Rules[0].Prefix))

	status, body := signedDo(t, h, testUser, http.MethodGet, "/source-bucket?replication", "", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.True(t, strings.HasPrefix(body, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<ReplicationConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Role>`), body)

	// The configuration drives the replication policy of new versions.
	v := seedVersion(t, h, "source-bucket", "k", "data")
	require.NotNil(t, v.Replication)
	assert.Equal(t, bbproto.StatusPending, v.Replication.Status)
	assert.Equal(t, "arn:aws:s3:::target-bucket", v.Replication.Destination)
	assert.Equal(t, "all", v.Replication.RuleID)
	assert.Equal(t, "arn:aws:iam::000000000000:role/backbeat", v.Replication.Role)

	// Versioning cannot be suspended while a configuration is present.
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("source-bucket"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	assert.Equal(t, "InvalidBucketState", apiCode(err))

	_, err = h.client(testOther).GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("source-bucket")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = h.client(testRepl).GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("source-bucket")})
	assert.Equal(t, "AccessDenied", apiCode(err), "the replication identity reads only object versions")

	_, err = c.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("source-bucket")})
	require.NoError(t, err)
	_, err = c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("source-bucket")})
	assert.Equal(t, "ReplicationConfigurationNotFoundError", apiCode(err))
	v = seedVersion(t, h, "source-bucket", "k", "data")
	assert.Nil(t, v.Replication, "no configuration: nothing to replicate")
	_, err = c.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("source-bucket")})
	require.NoError(t, err, "deleting no configuration is not an error")
	_, err = c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("source-bucket"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	require.NoError(t, err)
}

func TestReplicationV2AndGeneratedIDs(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("src", true)
	h.mkBucket("docs", true)
	h.mkBucket("vault", true)
	cfg := &s3types.ReplicationConfiguration{
		Role: aws.String("arn:aws:iam::123456789012:role/replication"),
		Rules: []s3types.ReplicationRule{
			{
				Priority: aws.Int32(2), Status: s3types.ReplicationRuleStatusEnabled,
				Filter:                  &s3types.ReplicationRuleFilter{Prefix: aws.String("docs/")},
				DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusEnabled},
				Destination:             &s3types.Destination{Bucket: aws.String("arn:aws:s3:::docs"), StorageClass: s3types.StorageClassStandardIa},
			},
			{
				ID: aws.String("tagged"), Priority: aws.Int32(5), Status: s3types.ReplicationRuleStatusEnabled,
				Filter: &s3types.ReplicationRuleFilter{And: &s3types.ReplicationRuleAndOperator{
					Prefix: aws.String("docs/"), Tags: []s3types.Tag{{Key: aws.String("class"), Value: aws.String("secret")}}}},
				DeleteMarkerReplication: &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusDisabled},
				Destination:             &s3types.Destination{Bucket: aws.String("arn:aws:s3:::vault")},
			},
		},
	}
	_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"), ReplicationConfiguration: cfg})
	require.NoError(t, err)
	out, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	require.NoError(t, err)
	rules := out.ReplicationConfiguration.Rules
	require.Len(t, rules, 2)
	generated := aws.ToString(rules[0].ID)
	assert.NotEmpty(t, generated, "a rule without ID gets one")
	assert.Equal(t, int32(2), aws.ToInt32(rules[0].Priority))
	assert.Equal(t, "docs/", aws.ToString(rules[0].Filter.Prefix))
	assert.Equal(t, s3types.DeleteMarkerReplicationStatusEnabled, rules[0].DeleteMarkerReplication.Status)
	assert.Equal(t, s3types.StorageClassStandardIa, rules[0].Destination.StorageClass)
	assert.Equal(t, "secret", aws.ToString(rules[1].Filter.And.Tags[0].Value))
	again, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	require.NoError(t, err)
	assert.Equal(t, generated, aws.ToString(again.ReplicationConfiguration.Rules[0].ID), "the generated ID is stored")

	v := seedVersion(t, h, "src", "docs/a", "x")
	require.NotNil(t, v.Replication)
	assert.Equal(t, generated, v.Replication.RuleID)
	assert.Equal(t, "STANDARD_IA", v.Replication.Site)
	v = seedVersion(t, h, "src", "other", "x")
	assert.Nil(t, v.Replication)
	res, err := h.srv.store.DeleteObject(ctx, "src", "docs/a", "")
	require.NoError(t, err)
	var marker *store.Version
	require.NoError(t, h.srv.store.WalkVersions(ctx, "src", store.WalkOptions{Prefix: "docs/a"}, func(v *store.Version) bool {
		if v.VersionID == res.VersionID {
			marker = v
		}
		return true
	}))
	require.NotNil(t, marker)
	require.True(t, marker.IsDeleteMarker)
	require.NotNil(t, marker.Replication, "the docs rule replicates delete markers")
	assert.Equal(t, generated, marker.Replication.RuleID)
}

func TestReplicationValidation(t *testing.T) {
	h := newHarness(t)
	c := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("src", true)
	put := func(cfg *s3types.ReplicationConfiguration) error {
		_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"), ReplicationConfiguration: cfg})
		return err
	}
	rule := func(mod func(r *s3types.ReplicationRule)) *s3types.ReplicationConfiguration {
		cfg := quickstartReplication()
		mod(&cfg.Rules[0])
		return cfg
	}
	assert.Equal(t, "InvalidArgument", apiCode(put(rule(func(r *s3types.ReplicationRule) {
		r.Destination.Bucket = aws.String("target-bucket")
	}))))
	assert.Equal(t, "MalformedXML", apiCode(put(rule(func(r *s3types.ReplicationRule) {
		r.Filter = &s3types.ReplicationRuleFilter{Prefix: aws.String("a")}
		r.Priority = aws.Int32(1)
		r.DeleteMarkerReplication = &s3types.DeleteMarkerReplication{Status: s3types.DeleteMarkerReplicationStatusDisabled}
	}))), "Prefix and Filter")
	assert.Equal(t, "InvalidRequest", apiCode(put(rule(func(r *s3types.ReplicationRule) {
		r.Prefix = nil
		r.Filter = &s3types.ReplicationRuleFilter{Prefix: aws.String("a")}
		r.Priority = aws.Int32(1)
	}))), "V2 without DeleteMarkerReplication")
	assert.Equal(t, "MalformedXML", apiCode(put(rule(func(r *s3types.ReplicationRule) { r.Status = "On" }))))
	cfg := quickstartReplication()
	cfg.Rules = append(cfg.Rules, cfg.Rules[0])
	assert.Equal(t, "InvalidArgument", apiCode(put(cfg)), "duplicate IDs")
	status, body := signedDo(t, h, testUser, http.MethodPut, "/src?replication",
		"<ReplicationConfiguration><Role>arn:aws:iam::1:role/r</Role></ReplicationConfiguration>", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "<Code>MalformedXML</Code>", "no rules")
	cfg = quickstartReplication()
	cfg.Role = aws.String("not-an-arn")
	assert.Equal(t, "InvalidArgument", apiCode(put(cfg)))

	status, body = signedDo(t, h, testUser, http.MethodPut, "/src?replication", "<ReplicationConfiguration><Role>", nil)
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "<Code>MalformedXML</Code>")

	_, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	assert.Equal(t, "ReplicationConfigurationNotFoundError", apiCode(err), "nothing invalid was stored")
	_, err = c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("missing"), ReplicationConfiguration: quickstartReplication()})
	assert.Equal(t, "NoSuchBucket", apiCode(err))
}

// TestReplicationIdentityLeastPrivilege: on the ordinary routes the replication identity
// only reads object versions of buckets that have a replication configuration.
func TestReplicationIdentityLeastPrivilege(t *testing.T) {
	h := newHarness(t)
	c, repl := h.client(testUser), h.client(testRepl)
	ctx := context.Background()
	h.replicated("src")
	h.mkBucket("plain", true)
	put := putString(t, c, "src", "k", "source bytes")
	putString(t, c, "plain", "k", "private")

	// Allowed: what the engine does on a source bucket.
	body, _ := getString(t, repl, "src", "k", aws.ToString(put.VersionId))
	assert.Equal(t, "source bytes", body)
	_, err := repl.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("k"), VersionId: put.VersionId})
	assert.NoError(t, err)
	rng, err := repl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("src"), Key: aws.String("k"), VersionId: put.VersionId, Range: aws.String("bytes=0-5")})
	require.NoError(t, err)
	rng.Body.Close()
	_, err = repl.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("src"), Key: aws.String("k"), VersionId: put.VersionId})
	assert.NoError(t, err)
	// ListObjectVersions of a source (an AWS replication role's s3:ListBucket): the
	// plain-S3 target path orders versions with it.
	lv, err := repl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("src"), Prefix: aws.String("k")})
	require.NoError(t, err)
	assert.Len(t, lv.Versions, 1)
	lb, err := repl.ListBuckets(ctx, &s3.ListBucketsInput{})
	require.NoError(t, err)
	var names []string
	for _, b := range lb.Buckets {
		names = append(names, aws.ToString(b.Name))
	}
	assert.Equal(t, []string{"src"}, names, "only the buckets with a replication configuration")

	// Refused: everything else, on the source and on any other bucket.
	denied := map[string]error{}
	_, denied["GetObject plain"] = repl.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("plain"), Key: aws.String("k")})
	_, denied["PutObject src"] = repl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("src"), Key: aws.String("planted"), Body: strings.NewReader("x")})
	_, denied["PutObject target"] = repl.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("target"), Key: aws.String("planted"), Body: strings.NewReader("x")})
	_, denied["DeleteObject src"] = repl.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("k")})
	_, denied["DeleteObjects src"] = repl.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("src"),
		Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: aws.String("k")}}}})
	_, denied["PutObjectTagging src"] = repl.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("src"), Key: aws.String("k"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("a"), Value: aws.String("b")}}}})
	_, denied["CreateMultipartUpload src"] = repl.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("src"), Key: aws.String("mp")})
	_, denied["ListObjectVersions plain"] = repl.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("plain")})
	_, denied["ListMultipartUploads src"] = repl.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("src")})
	_, denied["ListObjectsV2 src"] = repl.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("src")})
	_, denied["GetBucketReplication src"] = repl.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	_, denied["PutBucketVersioning src"] = repl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("src"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	_, denied["DeleteBucketReplication src"] = repl.DeleteBucketReplication(ctx, &s3.DeleteBucketReplicationInput{Bucket: aws.String("src")})
	_, denied["DeleteBucket plain"] = repl.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("plain")})
	_, denied["CreateBucket"] = repl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("repl-own")})
	_, denied["PutBucketPolicy target"] = repl.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("target"), Policy: aws.String(`{}`)})
	for op, err := range denied {
		assert.Equal(t, "AccessDenied", apiCode(err), op)
	}
	body, _ = getString(t, c, "src", "k", "")
	assert.Equal(t, "source bytes", body, "nothing changed")
}

package s3server

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// grant is a policy of bucket granting account the replication actions.
func grant(bucket, account string, actions ...string) string {
	a, _ := json.Marshal(actions)
	return `{"Version":"2012-10-17","Statement":[{"Sid":"repl","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + account +
		`:root"},"Action":` + string(a) + `,"Resource":["arn:aws:s3:::` + bucket + `","arn:aws:s3:::` + bucket + `/*"]}]}`
}

func TestBucketPolicyPutGetDelete(t *testing.T) {
	h := newHarness(t)
	c, other := h.client(testUser), h.client(testOther)
	ctx := context.Background()
	h.mkBucket("dst", true)

	_, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("dst")})
	assert.Equal(t, "NoSuchBucketPolicy", apiCode(err))
	doc := grant("dst", testOther.Name, "s3:ReplicateObject", "s3:ReplicateDelete")
	_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("dst"), Policy: aws.String(doc)})
	require.NoError(t, err)
	out, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("dst")})
	require.NoError(t, err)
	assert.JSONEq(t, doc, aws.ToString(out.Policy))

	// Owner only.
	_, err = other.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("dst")})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("dst"), Policy: aws.String(doc)})
	assert.Equal(t, "AccessDenied", apiCode(err))
	_, err = other.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("dst")})
	assert.Equal(t, "AccessDenied", apiCode(err))

	for name, bad := range map[string]string{
		"not JSON":          `{`,
		"other action":      grant("dst", "bob", "s3:GetObject"),
		"other bucket":      grant("elsewhere", "bob", "s3:ReplicateObject"),
		"condition":         `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ReplicateObject","Resource":"arn:aws:s3:::dst/*","Condition":{}}}`,
		"bad effect":        `{"Statement":{"Effect":"Maybe","Principal":"*","Action":"s3:ReplicateObject","Resource":"arn:aws:s3:::dst/*"}}`,
		"service":           `{"Statement":{"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"s3:ReplicateObject","Resource":"arn:aws:s3:::dst/*"}}`,
		"no statement":      `{"Version":"2012-10-17"}`,
		"bad version":       `{"Version":"2020-01-01","Statement":[]}`,
		"mid wildcard":      `{"Statement":{"Effect":"Allow","Principal":"*","Action":"s3:ReplicateObject","Resource":"arn:aws:s3:::dst/a*b"}}`,
		"unknown top-level": `{"Statement":[],"Foo":1}`,
	} {
		_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("dst"), Policy: aws.String(bad)})
		assert.Equal(t, "MalformedPolicy", apiCode(err), name)
	}
	_, err = c.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("dst")})
	require.NoError(t, err)
	_, err = c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String("dst")})
	assert.Equal(t, "NoSuchBucketPolicy", apiCode(err))
}

// replicateTo is a one-rule configuration to dst (site: the rule's StorageClass).
func replicateTo(dst, site string) *s3types.ReplicationConfiguration {
	return &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
		Rules: []s3types.ReplicationRule{{ID: aws.String("r"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
			Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + dst), StorageClass: s3types.StorageClass(site)}}}}
}

func TestPutBucketReplicationChecksDestination(t *testing.T) {
	h := newHarness(t)
	alice, bob := h.client(testUser), h.client(testOther)
	ctx := context.Background()
	h.mkBucket("alice-dst", true)
	h.mkBucket("alice-unversioned", false)
	for _, b := range []string{"bob-src"} {
		_, err := bob.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		require.NoError(t, err)
		_, err = bob.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
		require.NoError(t, err)
	}
	put := func(c *s3.Client, src, dst, site string) error {
		_, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String(src), ReplicationConfiguration: replicateTo(dst, site)})
		return err
	}
	err := put(bob, "bob-src", "no-such-bucket", "")
	assert.Equal(t, "InvalidRequest", apiCode(err))
	assert.Contains(t, err.Error(), "Destination bucket must exist")
	err = put(bob, "bob-src", "bob-src", "")
	assert.Equal(t, "InvalidRequest", apiCode(err))
	assert.Contains(t, err.Error(), "Destination bucket cannot be the same as the source bucket")
	err = put(bob, "bob-src", "alice-dst", "")
	assert.Equal(t, "AccessDenied", apiCode(err), "no consent from alice")
	assert.Contains(t, err.Error(), `"Action":["s3:ReplicateObject","s3:ReplicateDelete","s3:ReplicateTags"]`, "names the statement to add")
	require.NoError(t, put(bob, "bob-src", "alice-dst", "dr"), "a bucket on another site is checked there")

	// With alice's consent.
	_, err = alice.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-dst"), Policy: aws.String(grant("alice-dst", testOther.Name, "s3:Replicate*"))})
	require.NoError(t, err)
	require.NoError(t, put(bob, "bob-src", "alice-dst", ""))
	_, err = alice.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-unversioned"), Policy: aws.String(grant("alice-unversioned", testOther.Name, "s3:ReplicateObject"))})
	require.NoError(t, err)
	err = put(bob, "bob-src", "alice-unversioned", "")
	assert.Equal(t, "InvalidRequest", apiCode(err))
	assert.Contains(t, err.Error(), "Destination bucket must have versioning enabled")
}

func TestReplicaConsentAtWriteTime(t *testing.T) {
	h := newHarness(t)
	alice := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("alice-dst", true)
	src := func(account string) http.Header {
		h := http.Header{}
		h.Set("x-backbeat-source-bucket", "bob-src")
		h.Set("x-backbeat-source-account", account)
		h.Set("x-backbeat-source-journal-id", "another-server")
		h.Set("x-backbeat-version-id", "v1")
		h.Set("x-backbeat-last-modified", "2024-01-02T03:04:05Z")
		return h
	}
	r := h.bb(http.MethodPut, "replica/alice-dst/doc", []byte("bob's bytes"), src(testOther.Name))
	require.Equal(t, http.StatusForbidden, r.Status, string(r.Body))
	assert.Contains(t, string(r.Body), "s3:ReplicateObject")
	r = h.bb(http.MethodPost, "replica/alice-dst/doc?uploads", nil, src(testOther.Name))
	assert.Equal(t, http.StatusForbidden, r.Status, "no multipart upload either")

	_, err := alice.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-dst"), Policy: aws.String(grant("alice-dst", testOther.Name, "s3:ReplicateObject"))})
	require.NoError(t, err)
	r = h.bb(http.MethodPut, "replica/alice-dst/doc", []byte("bob's bytes"), src(testOther.Name))
	require.Equal(t, http.StatusOK, r.Status, string(r.Body))
	dm := src(testOther.Name)
	dm.Set("x-backbeat-version-id", "v2")
	dm.Set("x-backbeat-delete-marker", "true")
	r = h.bb(http.MethodPut, "replica/alice-dst/doc", nil, dm)
	assert.Equal(t, http.StatusForbidden, r.Status, "delete markers need s3:ReplicateDelete")
	assert.Contains(t, string(r.Body), "s3:ReplicateDelete")
	meta := src(testOther.Name)
	meta.Set("x-backbeat-metadata-only", "true")
	r = h.bb(http.MethodPut, "replica/alice-dst/doc", nil, meta)
	assert.Equal(t, http.StatusForbidden, r.Status, "tag updates need s3:ReplicateTags")

	// A source on this server: its owner is the store's, never the header's.
	h.mkBucket("alice-src", true)
	forged := src(testUser.Name)
	forged.Set("x-backbeat-source-bucket", "alice-src")
	forged.Del("x-backbeat-source-journal-id")
	forged.Set("x-backbeat-version-id", "v3")
	r = h.bb(http.MethodPut, "replica/alice-dst/doc", []byte("ok"), forged)
	require.Equal(t, http.StatusOK, r.Status, "alice's own bucket: %s", r.Body)
	_, err = h.client(testOther).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("bob-local")})
	require.NoError(t, err)
	forged.Set("x-backbeat-source-bucket", "bob-local")
	forged.Set("x-backbeat-source-account", testUser.Name) // a lie: bob owns bob-local
	forged.Set("x-backbeat-version-id", "v4")
	forged.Set("x-backbeat-delete-marker", "true")
	r = h.bb(http.MethodPut, "replica/alice-dst/doc", nil, forged)
	assert.Equal(t, http.StatusForbidden, r.Status, "the store says bob owns bob-local: %s", r.Body)

	// Without a source: refused.
	none := src(testOther.Name)
	none.Del("x-backbeat-source-bucket")
	req := bbRequest(t, ctx, h.URL, testRepl, http.MethodPut, "replica/alice-dst/doc", []byte("x"), none)
	req.Header.Del("x-backbeat-source-bucket")
	require.NoError(t, sign(req, testRepl, unsignedPayload))
	assert.Equal(t, http.StatusBadRequest, doBB(t, req).Status)
}

func TestReplicaNeverReplacesOwnVersion(t *testing.T) {
	h := newHarness(t)
	alice := h.client(testUser)
	ctx := context.Background()
	h.mkBucket("victim", false)
	putString(t, alice, "victim", "doc", "alice's bytes") // the null version
	_, err := alice.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("victim"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	require.NoError(t, err)
	hdr := http.Header{"x-backbeat-version-id": {"null"}, "x-backbeat-last-modified": {"2024-01-02T03:04:05Z"}}
	r := h.bb(http.MethodPut, "replica/victim/doc", []byte("replica bytes"), hdr)
	require.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	var e struct{ Code, Message string }
	require.NoError(t, json.Unmarshal(r.Body, &e))
	assert.Equal(t, "ReplicaConflict", e.Code)
	assert.Contains(t, e.Message, "already holds its own version null of doc; it was kept")
	hdr.Set("x-backbeat-metadata-only", "true")
	r = h.bb(http.MethodPut, "replica/victim/doc", nil, hdr)
	assert.Equal(t, http.StatusConflict, r.Status, string(r.Body))
	body, _ := getString(t, alice, "victim", "doc", "null")
	assert.Equal(t, "alice's bytes", body)
}

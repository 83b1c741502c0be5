package e2e

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto/bucketpolicy"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// waitStatus waits until the source version bucket/key@id on the source s3server is
// COMPLETED or FAILED and returns it.
func (s *stack) waitStatus(bucket, key, id string, timeout time.Duration) version {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v := s.version(s.src, bucket, key, id)
		if st := v.status(); st == "COMPLETED" || st == "FAILED" {
			return v
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("after %s, %s/%s@%s is %q", timeout, bucket, key, id, v.status())
		}
		time.Sleep(200 * time.Millisecond) // polling interval of a condition with a deadline
	}
}

// localRule is a replication configuration of one rule to dst on the same s3server
// (no StorageClass), delete markers included.
func localRule(dst string) *s3types.ReplicationConfiguration {
	return &s3types.ReplicationConfiguration{Role: aws.String("arn:aws:iam::000000000000:role/backbeat"),
		Rules: []s3types.ReplicationRule{{ID: aws.String("to-" + dst), Status: s3types.ReplicationRuleStatusEnabled,
			Prefix: aws.String(""), Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::" + dst)}}}}
}

func put(t *testing.T, s *stack, c *s3.Client, bucket, key, body string) string {
	t.Helper()
	out, err := c.PutObject(s.ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)})
	require.NoError(t, err)
	return aws.ToString(out.VersionId)
}

func body(t *testing.T, s *stack, c *s3.Client, bucket, key, id string) (string, *s3.GetObjectOutput) {
	t.Helper()
	out, err := c.GetObject(s.ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), VersionId: aws.String(id)})
	require.NoError(t, err)
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	require.NoError(t, err)
	return string(data), out
}

// The tenant abuse scenarios of the replication path, through the whole engine, with
// alice and bob two accounts of the source s3server (issue 12, findings 1 and 2).
func TestTenantIsolationEndToEnd(t *testing.T) {
	s := startStack(t)
	alice, bob := s.src.Client(s3test.Alice), s.src.Client(s3test.Bob)

	// (a) bob cannot replicate into alice's bucket without her consent; with it his puts
	// are replicated; once she takes it back, his next put FAILS and none of its bytes
	// reach her bucket.
	t.Run("consent", func(t *testing.T) {
		s.mkBucket(alice, "alice-dst")
		s.mkBucket(bob, "bob-src")
		_, err := bob.PutBucketReplication(s.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("bob-src"), ReplicationConfiguration: localRule("alice-dst")})
		var ae smithy.APIError
		require.ErrorAs(t, err, &ae)
		assert.Equal(t, "AccessDenied", ae.ErrorCode())
		assert.Contains(t, ae.ErrorMessage(), "s3:ReplicateObject")

		_, err = alice.PutBucketPolicy(s.ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-dst"), Policy: aws.String(bucketpolicy.GrantPolicy("alice-dst", s3test.Bob.Name))})
		require.NoError(t, err)
		_, err = bob.PutBucketReplication(s.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("bob-src"), ReplicationConfiguration: localRule("alice-dst")})
		require.NoError(t, err)
		granted := put(t, s, bob, "bob-src", "granted", "bob's, replicated with alice's consent")
		v := s.waitStatus("bob-src", "granted", granted, 2*time.Minute)
		require.Equal(t, "COMPLETED", v.status(), "%+v", v.Replication)
		got, out := body(t, s, alice, "alice-dst", "granted", granted)
		assert.Equal(t, "bob's, replicated with alice's consent", got)
		assert.Equal(t, s3types.ReplicationStatusReplica, out.ReplicationStatus)

		_, err = alice.DeleteBucketPolicy(s.ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("alice-dst")})
		require.NoError(t, err)
		refused := put(t, s, bob, "bob-src", "refused", "bob's, after alice took her consent back")
		v = s.waitStatus("bob-src", "refused", refused, 2*time.Minute)
		require.Equal(t, "FAILED", v.status())
		assert.Contains(t, v.Replication.Reason, "bucket alice-dst belongs to another account and its policy does not grant s3:ReplicateObject to account bob")

		// Not a byte of it in alice's bucket: only the granted version is there.
		res, err := alice.ListObjectVersions(s.ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("alice-dst")})
		require.NoError(t, err)
		require.Len(t, res.Versions, 1)
		assert.Equal(t, [2]string{"granted", granted}, [2]string{aws.ToString(res.Versions[0].Key), aws.ToString(res.Versions[0].VersionId)})
		assert.Empty(t, res.DeleteMarkers)
		_, err = alice.HeadObject(s.ctx, &s3.HeadObjectInput{Bucket: aws.String("alice-dst"), Key: aws.String("refused")})
		assert.Error(t, err)
	})

	// (b) alice's own null version of doc survives a replica aimed at it: bob's source
	// null version of doc, replicated after a tag change, FAILS with the conflict.
	t.Run("null version", func(t *testing.T) {
		const mine = "alice's own doc, put before versioning"
		for _, b := range []struct {
			c          *s3.Client
			name, data string
		}{{alice, "alice-victim", mine}, {bob, "bob-null", "bob's doc"}} {
			_, err := b.c.CreateBucket(s.ctx, &s3.CreateBucketInput{Bucket: aws.String(b.name)})
			require.NoError(t, err)
			put(t, s, b.c, b.name, "doc", b.data) // version null: versioning is not enabled yet
			_, err = b.c.PutBucketVersioning(s.ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(b.name),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
			require.NoError(t, err)
		}
		_, err := alice.PutBucketPolicy(s.ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-victim"), Policy: aws.String(bucketpolicy.GrantPolicy("alice-victim", s3test.Bob.Name))})
		require.NoError(t, err)
		_, err = bob.PutBucketReplication(s.ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("bob-null"), ReplicationConfiguration: localRule("alice-victim")})
		require.NoError(t, err)
		_, err = bob.PutObjectTagging(s.ctx, &s3.PutObjectTaggingInput{Bucket: aws.String("bob-null"), Key: aws.String("doc"), VersionId: aws.String("null"),
			Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("by"), Value: aws.String("bob")}}}})
		require.NoError(t, err)

		v := s.waitStatus("bob-null", "doc", "null", 2*time.Minute)
		require.Equal(t, "FAILED", v.status())
		assert.Contains(t, v.Replication.Reason, "target bucket alice-victim already holds its own version null of doc; it was kept")

		got, out := body(t, s, alice, "alice-victim", "doc", "null")
		assert.Equal(t, mine, got, "alice's bytes are intact")
		assert.Empty(t, out.ReplicationStatus, "still alice's own version, not a replica")
		res, err := alice.ListObjectVersions(s.ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("alice-victim")})
		require.NoError(t, err)
		assert.Len(t, res.Versions, 1)
		assert.False(t, bytes.Contains([]byte(got), []byte("bob")))
	})
}

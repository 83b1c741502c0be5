package starter

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto/bucketpolicy"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func TestSetupCreatesEverythingAndIsIdempotent(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()

	r := runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --prefix docs/ --site dr")...)
	assert.Contains(t, r.stdout, "created: bucket src at "+p.src.URL)
	assert.Contains(t, r.stdout, "created: bucket dst at "+p.dst.URL)
	assert.Contains(t, r.stdout, "enabled: versioning on src (was not enabled)")
	assert.Contains(t, r.stdout, "enabled: versioning on dst (was not enabled)")
	assert.Contains(t, r.stdout, `put: replication configuration on src: rule "backbeat-dst" replicates src (prefix "docs/") to arn:aws:s3:::dst (site dr), delete markers included`)
	assert.Contains(t, r.stdout, "ok    target-versioning")
	assert.NotContains(t, r.stdout, "FAIL")

	// What the servers hold, read without starter.
	for _, b := range []struct {
		c    *s3.Client
		name string
	}{{p.srcC, "src"}, {p.dstC, "dst"}} {
		v, err := b.c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b.name)})
		require.NoError(t, err)
		assert.Equal(t, s3types.BucketVersioningStatusEnabled, v.Status, b.name)
	}
	_, err := p.dstC.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("src")})
	assert.Error(t, err, "the source bucket is created on the source endpoint only")
	rc, err := p.srcC.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	require.NoError(t, err)
	cfg := rc.ReplicationConfiguration
	assert.Equal(t, DefaultRole, aws.ToString(cfg.Role))
	require.Len(t, cfg.Rules, 1)
	rule := cfg.Rules[0]
	assert.Equal(t, "backbeat-dst", aws.ToString(rule.ID))
	assert.Equal(t, s3types.ReplicationRuleStatusEnabled, rule.Status)
	require.NotNil(t, rule.Filter)
	assert.Equal(t, "docs/", aws.ToString(rule.Filter.Prefix))
	assert.Equal(t, "arn:aws:s3:::dst", aws.ToString(rule.Destination.Bucket))
	assert.Equal(t, s3types.StorageClass("dr"), rule.Destination.StorageClass)
	assert.Equal(t, s3types.DeleteMarkerReplicationStatusEnabled, rule.DeleteMarkerReplication.Status)

	// The configuration works: a new version under the prefix is PENDING, others not.
	putObject(t, p.srcC, "src", "docs/a", "a")
	putObject(t, p.srcC, "src", "other", "b")
	h, err := p.srcC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("docs/a")})
	require.NoError(t, err)
	assert.Equal(t, s3types.ReplicationStatusPending, h.ReplicationStatus)
	h, err = p.srcC.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("other")})
	require.NoError(t, err)
	assert.Empty(t, h.ReplicationStatus)

	// Twice: everything is in place, nothing changes.
	r = runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --prefix docs/ --site dr")...)
	for _, want := range []string{"in place: bucket src exists", "in place: bucket dst exists", "in place: versioning Enabled on src",
		"in place: versioning Enabled on dst", "in place: replication configuration on src"} {
		assert.Contains(t, r.stdout, want)
	}
	for _, not := range []string{"created:", "enabled:", "put:", "replaced:"} {
		assert.NotContains(t, r.stdout, not)
	}

	// Another prefix replaces the rule and says what it replaced.
	r = runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr --delete-markers=false")...)
	assert.Contains(t, r.stdout, "delete markers not replicated")
	assert.Contains(t, r.stdout, `replaced: replication configuration on src (had "backbeat-dst" -> arn:aws:s3:::dst; role `+DefaultRole+`)`)
	rc, err = p.srcC.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	require.NoError(t, err)
	assert.Equal(t, "", aws.ToString(rc.ReplicationConfiguration.Rules[0].Filter.Prefix))
	assert.Equal(t, s3types.DeleteMarkerReplicationStatusDisabled, rc.ReplicationConfiguration.Rules[0].DeleteMarkerReplication.Status)
}

func TestSetupFindsExistingBucketsAndSuspendedVersioning(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	s3test.MakeBucket(t, p.srcC, "src", s3types.BucketVersioningStatusEnabled)
	s3test.MakeBucket(t, p.dstC, "dst", s3types.BucketVersioningStatusSuspended)
	r := runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr")...)
	assert.Contains(t, r.stdout, "in place: bucket src exists")
	assert.Contains(t, r.stdout, "in place: bucket dst exists")
	assert.Contains(t, r.stdout, "in place: versioning Enabled on src")
	assert.Contains(t, r.stdout, "enabled: versioning on dst (was Suspended)")
}

func TestSetupBadInput(t *testing.T) {
	cfgFile := useProfiles(t)
	p := startPair(t)

	// Usage errors: exit 2, no request made.
	r := run(t, p.cmd("setup --source-bucket src")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--target-bucket is required")
	assert.Contains(t, r.stderr, "Run 'starter setup --help' for usage.")
	r = run(t, "setup", "--source-bucket", "src", "--target-bucket", "dst", "--no-such-flag")
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "unknown flag: --no-such-flag")
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--source-endpoint", "127.0.0.1:8000")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, `endpoint "127.0.0.1:8000" is not an http(s) URL`)

	// Unreachable endpoint: a clear message, exit 1.
	dead := closedURL(t)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--source-endpoint", dead)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "cannot reach the S3 endpoint at "+dead+" (connection refused): is s3server running? (make demo starts it")

	// Unknown profile.
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--source-profile", noSuchProfile)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `source profile "`+noSuchProfile+`" not found in AWS_CONFIG_FILE=`+cfgFile)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--target-profile", noSuchProfile)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `target profile "`+noSuchProfile+`" not found`)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--source-profile", profNoKeys)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `source profile "nokeys" has no usable keys`)

	// No profile and no keys in the environment (AWS_PROFILE and AWS_ACCESS_KEY_ID unset).
	r = run(t, "setup", "--source-bucket", "src", "--target-bucket", "dst", "--site", "dr", "--source-endpoint", p.src.URL)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "no source credentials found: pass --source-profile PROFILE (a profile in AWS_CONFIG_FILE="+cfgFile)

	// Wrong secret, unknown key.
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--source-profile", profWrongSecret)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, p.src.URL+` refused the secret key of profile "wrongsecret" (SignatureDoesNotMatch)`)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--target-profile", profUnknownKey)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, p.dst.URL+` does not know the access key of profile "unknownkey" (InvalidAccessKeyId)`)

	// A bucket of another account.
	s3test.MakeBucket(t, p.dst.Client(s3test.Alice), "taken", "")
	r = run(t, p.cmd("setup --source-bucket src --target-bucket taken --site dr")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `profile "backbeatuser" may not GetBucketVersioning bucket taken at `+p.dst.URL+` (AccessDenied): use the profile of the bucket's owner`)

	// A role s3server refuses.
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr", "--role", "not-an-arn")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "refused the replication configuration of src: InvalidArgument")
	assert.Contains(t, r.stderr, "check --role")
	assert.False(t, strings.Contains(r.stdout, "put: replication"), r)
}

// TestSilentEndpointTimesOut: an endpoint that accepts connections but never answers
// is reported within --timeout, without retries.
func TestSilentEndpointTimesOut(t *testing.T) {
	useProfiles(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 16)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- c // held open, never answered
		}
	}()
	t.Cleanup(func() {
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	url := "http://" + ln.Addr().String()
	start := time.Now()
	r := run(t, "validate", "--source-bucket", "b", "--source-endpoint", url, "--source-profile", profUser, "--timeout", "300ms")
	elapsed := time.Since(start)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "the S3 endpoint at "+url+" did not answer within 300ms (--timeout): is s3server running?")
	assert.Less(t, elapsed, 5*time.Second, "one attempt, bounded by --timeout")
	assert.Len(t, accepted, 1, "no retry: one connection")
}

// A target on another endpoint needs the worker's site name; a bucket cannot replicate
// into itself. Both are refused before anything is created.
func TestSetupRefusesRulesS3ServerWouldRefuse(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()

	r := run(t, p.cmd("setup --source-bucket src --target-bucket dst")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "the target endpoint "+p.dst.URL+" is not the source endpoint "+p.src.URL+
		": pass --site NAME, the name of the worker's site whose endpoint is "+p.dst.URL)
	_, err := p.srcC.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("src")})
	assert.Error(t, err, "nothing was created")

	r = run(t, "setup", "--source-bucket", "src", "--target-bucket", "src", "--source-endpoint", p.src.URL, "--source-profile", profUser)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--target-bucket src is the source bucket: a bucket cannot replicate into itself")
	_, err = p.srcC.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("src")})
	assert.Error(t, err, "nothing was created")
}

// A target bucket of another account on the same s3server: setup says which policy its
// owner must put; once put (as printed), setup and validate pass; when the owner takes
// the consent back, validate says so and shows the policy again.
func TestSetupAndValidateExplainMissingConsent(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()
	one := []string{"--source-endpoint", p.src.URL, "--source-profile", profUser, "--target-profile", profOther, "--timeout", "5s"}
	cmd := func(words string) []string { return append(strings.Fields(words), one...) }
	aliceC := p.src.Client(s3test.Alice)

	r := run(t, cmd("setup --source-bucket src --target-bucket alice-dst")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "refused the replication configuration of src: target bucket alice-dst belongs to another account than the source bucket (account backbeatuser), and its owner has not consented to receive its replicas")
	policy := bucketpolicy.GrantPolicy("alice-dst", s3test.User.Name)
	assert.Contains(t, r.stderr, "`aws s3api put-bucket-policy --bucket alice-dst --endpoint-url "+p.src.URL+" --profile "+profOther+" --policy '"+policy+"'`")
	assert.Contains(t, policy, `"Principal":{"AWS":"arn:aws:iam::backbeatuser:root"}`)
	_, err := p.srcC.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: aws.String("src")})
	assert.Equal(t, "ReplicationConfigurationNotFoundError", apiCode(err), "no configuration was put")

	// The owner does what the message says.
	_, err = aliceC.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-dst"), Policy: aws.String(policy)})
	require.NoError(t, err)
	r = runOK(t, cmd("setup --source-bucket src --target-bucket alice-dst")...)
	assert.Contains(t, r.stdout, "put: replication configuration on src")
	assert.Contains(t, r.stdout, "ok    target-consent     alice-dst (account alice) grants account backbeatuser s3:ReplicateObject, s3:ReplicateTags")

	// Consent taken back: validate fails and shows the policy to put.
	_, err = aliceC.DeleteBucketPolicy(ctx, &s3.DeleteBucketPolicyInput{Bucket: aws.String("alice-dst")})
	require.NoError(t, err)
	var rep ValidateReport
	r = run(t, cmd("validate --source-bucket src --output json")...)
	assert.Equal(t, ExitFailed, r.code, r)
	require.NoError(t, jsonUnmarshal(r.stdout, &rep), r)
	c := checkNamed(t, rep, CheckTargetConsent, "alice-dst")
	assert.False(t, c.OK)
	assert.Equal(t, "alice-dst at "+p.src.URL+" belongs to account alice and has no bucket policy to account backbeatuser (the source bucket's owner): replicas are refused", c.Message)
	assert.Contains(t, c.Fix, "--policy '"+policy+"'")
	assert.Contains(t, r.stderr, "validate found 1 problem:")

	// A policy granting only part of it, then a Deny.
	_, err = aliceC.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-dst"),
		Policy: aws.String(bucketpolicy.GrantPolicy("alice-dst", s3test.User.Name, bucketpolicy.ActionReplicateObject))})
	require.NoError(t, err)
	r = run(t, cmd("validate --source-bucket src")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stdout, "FAIL  target-consent     alice-dst at "+p.src.URL+" belongs to account alice and has a policy that does not grant s3:ReplicateTags, s3:ReplicateDelete to account backbeatuser")
	_, err = aliceC.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("alice-dst"),
		Policy: aws.String(`{"Statement":[` + bucketpolicy.GrantExample("alice-dst", s3test.User.Name) +
			`,{"Sid":"no-tags","Effect":"Deny","Principal":"*","Action":"s3:ReplicateTags","Resource":"arn:aws:s3:::alice-dst/*"}]}`)})
	require.NoError(t, err)
	r = run(t, cmd("validate --source-bucket src")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `whose policy denies account backbeatuser (the source bucket's owner) s3:ReplicateTags (statement "no-tags"): replicas are refused: the owner of alice-dst must remove that Deny`)
}

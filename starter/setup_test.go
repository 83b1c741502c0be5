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
	r = runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --delete-markers=false")...)
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
	mkBucket(t, p.srcC, "src", s3types.BucketVersioningStatusEnabled)
	mkBucket(t, p.dstC, "dst", s3types.BucketVersioningStatusSuspended)
	r := runOK(t, p.cmd("setup --source-bucket src --target-bucket dst")...)
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
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--source-endpoint", "127.0.0.1:8000")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, `endpoint "127.0.0.1:8000" is not an http(s) URL`)

	// Unreachable endpoint: a clear message, exit 1.
	dead := closedURL(t)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--source-endpoint", dead)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "cannot reach the S3 endpoint at "+dead+" (connection refused): is s3server running? (make demo starts it")

	// Unknown profile.
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--source-profile", noSuchProfile)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `source profile "`+noSuchProfile+`" not found in AWS_CONFIG_FILE=`+cfgFile)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--target-profile", noSuchProfile)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `target profile "`+noSuchProfile+`" not found`)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--source-profile", profNoKeys)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `source profile "nokeys" has no usable keys`)

	// No profile and no keys in the environment (AWS_PROFILE and AWS_ACCESS_KEY_ID unset).
	r = run(t, "setup", "--source-bucket", "src", "--target-bucket", "dst", "--source-endpoint", p.src.URL)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "no source credentials found: pass --source-profile PROFILE (a profile in AWS_CONFIG_FILE="+cfgFile)

	// Wrong secret, unknown key.
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--source-profile", profWrongSecret)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, p.src.URL+` refused the secret key of profile "wrongsecret" (SignatureDoesNotMatch)`)
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--target-profile", profUnknownKey)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, p.dst.URL+` does not know the access key of profile "unknownkey" (InvalidAccessKeyId)`)

	// A bucket of another account.
	mkBucket(t, p.dst.Client(s3test.Replication), "taken", "")
	r = run(t, p.cmd("setup --source-bucket src --target-bucket taken")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `profile "backbeatuser" may not GetBucketVersioning bucket taken at `+p.dst.URL+` (AccessDenied): use the profile of the bucket's owner`)

	// A role s3server refuses.
	r = run(t, p.cmd("setup --source-bucket src --target-bucket dst", "--role", "not-an-arn")...)
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

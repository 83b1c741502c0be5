package starter

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

// checkNamed returns the check of that name and bucket.
func checkNamed(t *testing.T, rep ValidateReport, name, bucket string) Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name && c.Bucket == bucket {
			return c
		}
	}
	require.Failf(t, "no such check", "%s on %s in %+v", name, bucket, rep.Checks)
	return Check{}
}

func TestValidatePassesAfterSetup(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr")...)

	var rep ValidateReport
	runJSON(t, &rep, p.cmd("validate --source-bucket src --target-bucket dst")...)
	assert.True(t, rep.OK)
	assert.Equal(t, []string{"dst"}, rep.Targets)
	assert.Len(t, rep.Checks, 5)
	for _, c := range rep.Checks {
		assert.True(t, c.OK, "%+v", c)
	}
	assert.Equal(t, p.dst.URL, checkNamed(t, rep, CheckTargetReachable, "dst").Endpoint)

	// Without --target-bucket the rule's destination is checked.
	rep = ValidateReport{}
	runJSON(t, &rep, p.cmd("validate --source-bucket src")...)
	assert.True(t, rep.OK)
	assert.Equal(t, []string{"dst"}, rep.Targets)

	// Flags from the environment: endpoints and profiles; the source endpoint also under
	// ingest's and the worker's name (.demo/env), the starter's own name first.
	t.Setenv(EnvS3Endpoint, p.src.URL)
	t.Setenv(EnvTargetEndpoint, p.dst.URL)
	t.Setenv(EnvSourceProfile, profUser)
	r := runOK(t, "validate", "--source-bucket", "src")
	assert.Contains(t, r.stdout, "ok    target-reachable   dst is reachable at "+p.dst.URL+` with profile "backbeatuser"`)
	t.Setenv(EnvSourceEndpoint, p.src.URL)
	t.Setenv(EnvS3Endpoint, "http://127.0.0.1:1")
	r = runOK(t, "validate", "--source-bucket", "src")
	assert.Contains(t, r.stdout, "ok    target-reachable   dst is reachable at "+p.dst.URL+` with profile "backbeatuser"`)
	// A flag wins over the environment.
	r = run(t, "validate", "--source-bucket", "src", "--source-profile", noSuchProfile)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `profile "`+noSuchProfile+`" not found`)
	t.Setenv(EnvTimeout, "soon")
	r = run(t, "validate", "--source-bucket", "src")
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, `environment variable BACKBEAT_TIMEOUT="soon" is not a valid value for --timeout`)
}

func TestValidateSaysWhatIsWrong(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()

	// The source bucket does not exist.
	r := run(t, p.cmd("validate --source-bucket src --target-bucket dst")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket src does not exist at "+p.src.URL+": create it or run `starter setup`")
	assert.Contains(t, r.stdout, "FAIL  source-versioning")

	// Versioning off on the source, no replication configuration, no target bucket.
	s3test.MakeBucket(t, p.srcC, "src", "")
	var rep ValidateReport
	r = run(t, p.cmd("validate --source-bucket src --target-bucket dst --output json")...)
	assert.Equal(t, ExitFailed, r.code, r)
	require.NoError(t, jsonUnmarshal(r.stdout, &rep), r)
	assert.False(t, rep.OK)
	c := checkNamed(t, rep, CheckSourceVersioning, "src")
	assert.False(t, c.OK)
	assert.Equal(t, "versioning is not enabled on src at "+p.src.URL+" (replication needs Enabled)", c.Message)
	assert.Contains(t, c.Fix, "`starter setup --source-bucket src --target-bucket dst --site SITE`", "another endpoint needs a site")
	assert.Contains(t, c.Fix, "`aws s3api put-bucket-versioning --bucket src --versioning-configuration Status=Enabled --endpoint-url "+p.src.URL+"`")
	c = checkNamed(t, rep, CheckReplicationRule, "src")
	assert.False(t, c.OK)
	assert.Equal(t, "src at "+p.src.URL+" has no replication configuration", c.Message)
	c = checkNamed(t, rep, CheckTargetReachable, "dst")
	assert.False(t, c.OK)
	assert.Equal(t, "bucket dst does not exist at "+p.dst.URL+": create it or run `starter setup`", c.Message)
	assert.Contains(t, r.stderr, "validate found 3 problems:")
	assert.Contains(t, r.stderr, "versioning is not enabled on src at "+p.src.URL)

	// A rule to another bucket; versioning Suspended on the target.
	_, err := p.srcC.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("src"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	require.NoError(t, err)
	_, err = p.srcC.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String(DefaultRole),
			Rules: []s3types.ReplicationRule{{ID: aws.String("elsewhere"), Status: s3types.ReplicationRuleStatusEnabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::elsewhere"), StorageClass: "dr"}}}}})
	require.NoError(t, err)
	s3test.MakeBucket(t, p.dstC, "dst", s3types.BucketVersioningStatusEnabled)
	_, err = p.dstC.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String("dst"),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusSuspended}})
	require.NoError(t, err)
	r = run(t, p.cmd("validate --source-bucket src --target-bucket dst")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "validate found 2 problems:")
	assert.Contains(t, r.stderr, "no Enabled replication rule of src at "+p.src.URL+" has the destination arn:aws:s3:::dst (they replicate to arn:aws:s3:::elsewhere)")
	assert.Contains(t, r.stderr, "versioning is Suspended on dst at "+p.dst.URL+" (replicas need Enabled): run `starter setup --source-bucket src --target-bucket dst --site SITE`")
	assert.Contains(t, r.stdout, "ok    source-versioning")
	assert.Contains(t, r.stdout, "ok    target-reachable")

	// Without --target-bucket, the rule's destination is checked (and does not exist).
	r = run(t, p.cmd("validate --source-bucket src")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket elsewhere does not exist at "+p.dst.URL)

	// Disabled rule.
	_, err = p.srcC.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: aws.String("src"),
		ReplicationConfiguration: &s3types.ReplicationConfiguration{Role: aws.String(DefaultRole),
			Rules: []s3types.ReplicationRule{{ID: aws.String("off"), Status: s3types.ReplicationRuleStatusDisabled, Prefix: aws.String(""),
				Destination: &s3types.Destination{Bucket: aws.String("arn:aws:s3:::dst"), StorageClass: "dr"}}}}})
	require.NoError(t, err)
	r = run(t, p.cmd("validate --source-bucket src --target-bucket dst")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `every replication rule of src at `+p.src.URL+` is Disabled (rules "off")`)

	// The target credentials are refused; the target endpoint is down.
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr")...)
	r = run(t, p.cmd("validate --source-bucket src --target-bucket dst", "--target-profile", profWrongSecret)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, p.dst.URL+` refused the secret key of profile "wrongsecret" (SignatureDoesNotMatch)`)
	r = run(t, p.cmd("validate --source-bucket src --target-bucket dst", "--target-profile", profUnknownKey)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, p.dst.URL+` does not know the access key of profile "unknownkey" (InvalidAccessKeyId)`)
	dead := closedURL(t)
	r = run(t, p.cmd("validate --source-bucket src --target-bucket dst", "--target-endpoint", dead)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "cannot reach the S3 endpoint at "+dead+" (connection refused): is s3server running?")
	assert.Contains(t, r.stdout, "ok    source-versioning")
	assert.Contains(t, r.stdout, "FAIL  target-reachable")
	r = run(t, p.cmd("validate --source-bucket src", "--source-endpoint", dead)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "cannot reach the S3 endpoint at "+dead+" (connection refused)")
}

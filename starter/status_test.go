package starter

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/s3server/s3test"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

func TestStatusShowsSourceAndTarget(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --delete-markers --site dr")...)
	const key = "dir/with space+plus@at"
	v1 := putObject(t, p.srcC, "src", key, "one")
	v2 := putObject(t, p.srcC, "src", key, "two")
	v3 := putObject(t, p.srcC, "src", key, "three")
	dm, err := p.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String(key)})
	require.NoError(t, err)
	putObject(t, p.srcC, "src", key+"-other", "another key with the same prefix")

	// v1 replicated (as the worker does: replica, then COMPLETED), v2 FAILED, v3 PENDING.
	putReplica(t, p.dst, "dst", key, v1, "one")
	setStatusOf(t, p.src, "src", key, v1, bbproto.StatusCompleted, "")
	setStatusOf(t, p.src, "src", key, v2, bbproto.StatusFailed, "target said no")

	var got []VersionStatus
	runJSON(t, &got, p.cmd("status --bucket src", "--key", key)...)
	require.Len(t, got, 4, "three versions and a delete marker, not the other key")
	byID := map[string]VersionStatus{}
	for _, v := range got {
		byID[v.VersionID] = v
		assert.Equal(t, "dst", v.Target.Bucket, "from the rule")
		assert.Equal(t, p.dst.URL, v.Target.Endpoint)
		assert.Empty(t, v.Target.Error)
	}
	assert.Equal(t, aws.ToString(dm.VersionId), got[0].VersionID, "newest first")
	assert.True(t, got[0].IsLatest && got[0].IsDeleteMarker)
	assert.Equal(t, v1, got[3].VersionID)
	assert.Equal(t, string(bbproto.StatusCompleted), byID[v1].SourceStatus)
	assert.True(t, byID[v1].Target.Present)
	assert.Equal(t, string(bbproto.StatusReplica), byID[v1].Target.Status)
	assert.Equal(t, string(bbproto.StatusFailed), byID[v2].SourceStatus)
	assert.Empty(t, byID[v2].Reason, "no replication identity: no reason")
	assert.False(t, byID[v2].Target.Present)
	assert.Equal(t, string(bbproto.StatusPending), byID[v3].SourceStatus)
	assert.Equal(t, "?", got[0].SourceStatus, "a delete marker's status needs the replication identity")

	// With the replication identity: reasons and delete-marker statuses.
	got = nil
	runJSON(t, &got, p.cmd("status --bucket src", "--key", key, "--replication-profile", profReplication)...)
	require.Len(t, got, 4)
	assert.Equal(t, string(bbproto.StatusPending), got[0].SourceStatus, "the delete marker is PENDING (--delete-markers)")
	assert.Equal(t, "target said no", got[2].Reason)
	assert.Equal(t, string(bbproto.StatusFailed), got[2].SourceStatus)

	// One version, as a table; the keys may also come from the environment.
	t.Setenv(EnvReplicationAccessKey, s3test.Replication.AccessKey)
	t.Setenv(EnvReplicationSecretKey, s3test.Replication.SecretKey)
	r := runOK(t, p.cmd("status --bucket src", "--key", key, "--version-id", v2)...)
	assert.Regexp(t, `(?m)^`+v2+`\s+no\s+object\s+\S+\s+FAILED\s+absent from dst\s+target said no$`, r.stdout)
	assert.NotContains(t, r.stdout, v1)

	// The secret key from a file; never from a flag value (ps would show it).
	t.Setenv(EnvReplicationSecretKey, "")
	r = runOK(t, p.cmd("status --bucket src", "--key", key, "--version-id", v2, "--replication-secret-key-file", s3test.Replication.SecretFile(t))...)
	assert.Contains(t, r.stdout, "target said no")
	r = run(t, p.cmd("status --bucket src --key k", "--replication-secret-key", s3test.Replication.SecretKey)...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--replication-secret-key is not accepted: a secret on the command line shows in ps; put it in a file and give --replication-secret-key-file FILE, or set the environment variable "+EnvReplicationSecretKey)
	t.Setenv(EnvReplicationSecretKey, s3test.Replication.SecretKey)

	r = runOK(t, p.cmd("status --bucket src", "--key", key, "--version-id", v1)...)
	assert.Regexp(t, `(?m)^`+v1+`\s+no\s+object\s+\S+\s+COMPLETED\s+REPLICA in dst\s+-$`, r.stdout)

	// --target-bucket overrides the rule.
	got = nil
	r = run(t, p.cmd("status --bucket src", "--key", key, "--version-id", v1, "--target-bucket", "src", "--output", "json")...)
	assert.Equal(t, ExitFailed, r.code, "the target bucket cannot be read: %s", r)
	require.NoError(t, jsonUnmarshal(r.stdout, &got), r)
	require.Len(t, got, 1)
	assert.Equal(t, string(bbproto.StatusCompleted), got[0].SourceStatus)
	assert.Equal(t, "src", got[0].Target.Bucket)
	assert.Equal(t, "bucket src does not exist at "+p.dst.URL+": create it or run `starter setup`", got[0].Target.Error)
}

func TestStatusBadInput(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr")...)
	v := putObject(t, p.srcC, "src", "k", "data")

	r := run(t, p.cmd("status --bucket src")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--key is required")
	r = run(t, p.cmd("status --bucket src --key k --output yaml")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, `--output must be text or json, not "yaml"`)
	r = run(t, append(p.cmd("status --bucket src --key k"), "extra-arg")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, `unknown command "extra-arg"`)

	r = run(t, p.cmd("status --bucket nope --key k")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket nope does not exist at "+p.src.URL+": create it or run `starter setup`")
	r = run(t, p.cmd("status --bucket src --key missing")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "missing has no version in bucket src at "+p.src.URL)
	r = run(t, p.cmd("status --bucket src --key k --version-id 0123")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "version 0123 of k does not exist in bucket src")
	r = run(t, p.cmd("status --bucket src --key k", "--source-profile", profWrongSecret)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `refused the secret key of profile "wrongsecret" (SignatureDoesNotMatch)`)
	r = run(t, p.cmd("status --bucket src --key k", "--source-endpoint", closedURL(t))...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "(connection refused): is s3server running?")

	// The user's keys are not the replication identity.
	r = run(t, p.cmd("status --bucket src --key k", "--replication-profile", profUser)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `profile "backbeatuser" is not s3server's replication identity at `+p.src.URL+` (AccessDenied on /_/backbeat/)`)
	t.Setenv(EnvReplicationAccessKey, "only-one")
	r = run(t, p.cmd("status --bucket src --key k")...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--replication-access-key ("+EnvReplicationAccessKey+") and the secret key ("+EnvReplicationSecretKey+" or --replication-secret-key-file) go together")

	// The target cannot be read: the source statuses are still shown, exit 1.
	t.Setenv(EnvReplicationAccessKey, "")
	dead := closedURL(t)
	r = run(t, p.cmd("status --bucket src --key k", "--target-endpoint", dead)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Regexp(t, `(?m)^`+v+`\s+yes\s+object\s+\S+\s+PENDING\s+\? \(dst unreadable\)`, r.stdout)
	assert.Contains(t, r.stderr, "cannot reach the S3 endpoint at "+dead)
}

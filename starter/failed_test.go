package starter

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func TestFailedListAndRetry(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --delete-markers --site dr")...)
	runOK(t, p.cmd("setup --source-bucket src2 --target-bucket dst --site dr")...)
	s3test.MakeBucket(t, p.srcC, "unreplicated", "Enabled")

	a1 := putObject(t, p.srcC, "src", "a", "a1")
	a2 := putObject(t, p.srcC, "src", "a", "a2")
	b1 := putObject(t, p.srcC, "src", "dir/b@x", "b1")
	dm, err := p.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("dir/b@x")})
	require.NoError(t, err)
	c1 := putObject(t, p.srcC, "src2", "c", "c1")
	putObject(t, p.srcC, "unreplicated", "u", "u1")
	setStatusOf(t, p.src, "src", "a", a1, bbproto.StatusFailed, "NoSuchBucket: the target bucket dst does not exist")
	setStatusOf(t, p.src, "src", "a", a2, bbproto.StatusCompleted, "")
	setStatusOf(t, p.src, "src", "dir/b@x", aws.ToString(dm.VersionId), bbproto.StatusFailed, "AccessDenied: no")
	setStatusOf(t, p.src, "src2", "c", c1, bbproto.StatusFailed, "timeout")
	repl := []string{"--replication-profile", profReplication}

	// Every replicated bucket of the account.
	var failed []FailedVersion
	runJSON(t, &failed, p.cmd("failed list", repl...)...)
	require.Len(t, failed, 3, "%+v", failed)
	assert.Equal(t, "src/a@"+a1, failed[0].Ref())
	assert.Equal(t, "NoSuchBucket: the target bucket dst does not exist", failed[0].Reason)
	assert.Equal(t, "arn:aws:s3:::dst", failed[0].Destination)
	assert.Equal(t, "src/dir/b@x@"+aws.ToString(dm.VersionId), failed[1].Ref())
	assert.True(t, failed[1].IsDeleteMarker)
	assert.Equal(t, "src2/c@"+c1, failed[2].Ref())

	// One bucket, as a table.
	r := runOK(t, p.cmd("failed list --bucket src2", repl...)...)
	assert.Regexp(t, `(?m)^src2/c@`+c1+`\s+\S+\s+arn:aws:s3:::dst\s+timeout$`, r.stdout)
	assert.NotContains(t, r.stdout, "src/a@")
	assert.Contains(t, r.stdout, "1 FAILED version(s)")

	// Retry one by name: PENDING again, through the journal (a status record that ingest
	// takes as new work).
	before := len(journalStatusRecords(t, p.src, "src", "a"))
	r = runOK(t, p.cmd("failed retry", append(repl, "src/a@"+a1)...)...)
	assert.Contains(t, r.stdout, "re-queued src/a@"+a1+" (was FAILED: NoSuchBucket: the target bucket dst does not exist)")
	assert.Contains(t, r.stdout, "1 re-queued (PENDING), 0 skipped, 0 error(s)")
	assert.Empty(t, r.stderr, "stderr is no terminal: no progress line")
	v := bbVersionOf(t, p.src, "src", "a", a1)
	assert.Equal(t, string(bbproto.StatusPending), statusOf(v))
	assert.Empty(t, reasonOf(v))
	assert.Equal(t, "arn:aws:s3:::dst", v.Replication.Destination, "the version keeps its rule")
	recs := journalStatusRecords(t, p.src, "src", "a")
	require.Len(t, recs, before+1)
	last := recs[len(recs)-1]
	assert.Equal(t, a1, last["versionId"])
	assert.Equal(t, string(bbproto.StatusPending), last["replication"].(map[string]any)["status"])

	// A version that is not FAILED is skipped; a missing one is an error (exit 1).
	r = run(t, p.cmd("failed retry", append(repl, "src/a@"+a2, "src/a@"+a1, "src/nope@123")...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stdout, "skipped src/a@"+a2+": its status is COMPLETED, not FAILED")
	assert.Contains(t, r.stdout, "skipped src/a@"+a1+": its status is PENDING, not FAILED")
	assert.Contains(t, r.stderr, "version 123 of src/nope does not exist at "+p.src.URL)
	assert.Contains(t, r.stdout, "0 re-queued (PENDING), 2 skipped, 1 error(s)")
	assert.Equal(t, string(bbproto.StatusCompleted), statusOf(bbVersionOf(t, p.src, "src", "a", a2)), "untouched")

	// --all --bucket, then --all.
	r = runOK(t, p.cmd("failed retry --all --bucket src", repl...)...)
	assert.Contains(t, r.stdout, "re-queued src/dir/b@x@"+aws.ToString(dm.VersionId)+" (was FAILED: AccessDenied: no)")
	assert.Equal(t, string(bbproto.StatusFailed), statusOf(bbVersionOf(t, p.src, "src2", "c", c1)), "another bucket is left alone")
	r = runOK(t, p.cmd("failed retry --all", repl...)...)
	assert.Contains(t, r.stdout, "re-queued src2/c@"+c1)
	assert.Contains(t, r.stdout, "1 re-queued (PENDING)")
	r = runOK(t, p.cmd("failed retry --all", repl...)...)
	assert.Contains(t, r.stdout, "no FAILED version in src, src2: nothing to retry")
	r = runOK(t, p.cmd("failed list", repl...)...)
	assert.Contains(t, r.stdout, "no FAILED version in src, src2")
	assert.Equal(t, string(bbproto.StatusPending), statusOf(bbVersionOf(t, p.src, "src", "dir/b@x", b1)), "b1 was PENDING all along")
}

func TestFailedBadInput(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr")...)
	repl := []string{"--replication-profile", profReplication}

	for _, c := range []struct {
		args []string
		want string
	}{
		{p.cmd("failed retry", repl...), "give the versions to retry"},
		{p.cmd("failed retry --all", append(repl, "src/a@1")...), "give either --all or versions, not both"},
		{p.cmd("failed retry --bucket src", append(repl, "src/a@1")...), "--bucket goes with --all"},
		{p.cmd("failed retry", append(repl, "src/a")...), `"src/a" is not BUCKET/KEY@VERSION`},
		{p.cmd("failed retry", append(repl, "src@1")...), `"src@1" is not BUCKET/KEY@VERSION`},
		{p.cmd("failed"), "failed needs a subcommand: list or retry"},
		{p.cmd("failed list --output xml", repl...), `--output must be text or json`},
	} {
		r := run(t, c.args...)
		assert.Equal(t, ExitUsage, r.code, r)
		assert.Contains(t, r.stderr, c.want)
	}

	// No replication identity: said clearly.
	r := run(t, p.cmd("failed list")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "need the replication identity")
	assert.Contains(t, r.stderr, "--replication-profile PROFILE")
	assert.Contains(t, r.stderr, "--replication-access-key (env "+EnvReplicationAccessKey+") with the secret key in "+EnvReplicationSecretKey+" or --replication-secret-key-file")
	r = run(t, p.cmd("failed retry --all")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "need the replication identity")

	// Wrong replication identity, unknown profile, missing bucket, unreachable endpoint.
	putObject(t, p.srcC, "src", "k", "v")
	r = run(t, p.cmd("failed list", "--replication-profile", profUser)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `profile "backbeatuser" is not s3server's replication identity`)
	r = run(t, p.cmd("failed list", "--replication-profile", noSuchProfile)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `replication profile "`+noSuchProfile+`" not found in AWS_CONFIG_FILE=`)
	r = run(t, p.cmd("failed list --bucket nope", repl...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket nope does not exist at "+p.src.URL)
	r = run(t, p.cmd("failed retry", append(repl, "nope/k@1")...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket nope does not exist at "+p.src.URL)
	r = run(t, p.cmd("failed list", append(repl, "--source-endpoint", closedURL(t))...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "(connection refused): is s3server running?")
	t.Setenv(EnvReplicationAccessKey, "AKS3TESTREPL00000001")
	t.Setenv(EnvReplicationSecretKey, "wrong")
	r = run(t, p.cmd("failed list")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "refused the secret key of the replication keys (--replication-access-key) (SignatureDoesNotMatch)")
}

package starter

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func TestBackfillMarksVersionsWithoutStatus(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	ctx := context.Background()
	repl := []string{"--replication-profile", profReplication}

	// Versions written before replication was set up have no status.
	s3test.MakeBucket(t, p.srcC, "src", s3types.BucketVersioningStatusEnabled)
	old1 := putObject(t, p.srcC, "src", "docs/one", "1")
	old2 := putObject(t, p.srcC, "src", "docs/one", "1 again")
	oldOut := putObject(t, p.srcC, "src", "logs/x", "outside the prefix of the rule")
	dm, err := p.srcC.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("src"), Key: aws.String("docs/gone")})
	require.NoError(t, err)
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --prefix docs/ --site dr --delete-markers=false")...)
	fresh := putObject(t, p.srcC, "src", "docs/new", "written after setup: PENDING already")
	setStatusOf(t, p.src, "src", "docs/new", fresh, bbproto.StatusCompleted, "")

	// Dry run: counts, changes nothing.
	var rep BackfillReport
	runJSON(t, &rep, p.cmd("backfill --bucket src --dry-run", repl...)...)
	assert.Equal(t, BackfillReport{Bucket: "src", DryRun: true, Scanned: 5, Marked: 2,
		AlreadyHadStatus: map[string]int{string(bbproto.StatusCompleted): 1}, NoMatchingRule: 2}, rep,
		"the delete marker: the rule does not replicate delete markers; logs/x: outside the prefix")
	assert.Empty(t, statusOf(bbVersionOf(t, p.src, "src", "docs/one", old1)))

	r := runOK(t, p.cmd("backfill --bucket src", repl...)...)
	assert.Equal(t, `backfill src (prefix ""): 5 scanned, 2 marked PENDING, 1 already had a status (COMPLETED 1), 2 matched no Enabled rule`+"\n", r.stdout)
	assert.Empty(t, r.stderr, "stderr is no terminal: no progress line")
	for _, id := range []string{old1, old2} {
		v := bbVersionOf(t, p.src, "src", "docs/one", id)
		assert.Equal(t, string(bbproto.StatusPending), statusOf(v), id)
		assert.Equal(t, "arn:aws:s3:::dst", v.Replication.Destination, "s3server applied the rule")
	}
	assert.Len(t, journalStatusRecords(t, p.src, "src", "docs/one"), 2, "each marked version is journaled")
	assert.Empty(t, statusOf(bbVersionOf(t, p.src, "src", "logs/x", oldOut)))
	assert.Empty(t, statusOf(bbVersionOf(t, p.src, "src", "docs/gone", aws.ToString(dm.VersionId))))
	assert.Equal(t, string(bbproto.StatusCompleted), statusOf(bbVersionOf(t, p.src, "src", "docs/new", fresh)))

	// Twice: nothing left to mark. --prefix narrows the walk.
	rep = BackfillReport{}
	runJSON(t, &rep, p.cmd("backfill --bucket src --prefix docs/", repl...)...)
	assert.Equal(t, BackfillReport{Bucket: "src", Prefix: "docs/", Scanned: 4, Marked: 0,
		AlreadyHadStatus: map[string]int{string(bbproto.StatusPending): 2, string(bbproto.StatusCompleted): 1}, NoMatchingRule: 1}, rep)

	// Delete markers are marked when the rule replicates them.
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --prefix docs/ --delete-markers --site dr")...)
	rep = BackfillReport{}
	runJSON(t, &rep, p.cmd("backfill --bucket src --prefix docs/gone", repl...)...)
	assert.Equal(t, 1, rep.Marked)
	assert.Equal(t, string(bbproto.StatusPending), statusOf(bbVersionOf(t, p.src, "src", "docs/gone", aws.ToString(dm.VersionId))))
}

func TestBackfillBadInput(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	repl := []string{"--replication-profile", profReplication}

	r := run(t, p.cmd("backfill", repl...)...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--bucket is required")
	r = run(t, p.cmd("backfill --bucket src")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "need the replication identity")
	r = run(t, p.cmd("backfill --bucket src", repl...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket src does not exist at "+p.src.URL+": create it or run `starter setup`")

	s3test.MakeBucket(t, p.srcC, "src", "")
	putObject(t, p.srcC, "src", "k", "v")
	r = run(t, p.cmd("backfill --bucket src", repl...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "versioning is not enabled on src at "+p.src.URL)
	s3test.MakeBucket(t, p.srcC, "versioned", s3types.BucketVersioningStatusEnabled)
	r = run(t, p.cmd("backfill --bucket versioned", repl...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "versioned at "+p.src.URL+" has no Enabled replication rule")
	r = run(t, p.cmd("backfill --bucket src", append(repl, "--source-endpoint", closedURL(t))...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "(connection refused): is s3server running?")
}

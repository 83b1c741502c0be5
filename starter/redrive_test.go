package starter

import (
	"testing"

	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"
)

func TestRedriveJournalsWaitingVersionsAgain(t *testing.T) {
	useProfiles(t)
	p := startPair(t)
	repl := []string{"--replication-profile", profReplication}
	s3test.MakeBucket(t, p.srcC, "src", s3types.BucketVersioningStatusEnabled)
	runOK(t, p.cmd("setup --source-bucket src --target-bucket dst --site dr")...)
	a := putObject(t, p.srcC, "src", "docs/a", "1")
	b := putObject(t, p.srcC, "src", "docs/b", "2")
	done := putObject(t, p.srcC, "src", "docs/done", "3")
	setStatusOf(t, p.src, "src", "docs/done", done, bbproto.StatusCompleted, "")
	other := putObject(t, p.srcC, "src", "logs/x", "4")
	before := len(journalStatusRecords(t, p.src, "src", "docs/a"))

	var rep RedriveReport
	runJSON(t, &rep, p.cmd("redrive --bucket src --prefix docs/ --dry-run", repl...)...)
	assert.Equal(t, 2, rep.Scanned, "the index of waiting versions holds docs/a and docs/b, not docs/done")
	assert.Equal(t, 2, rep.Waiting)
	assert.Equal(t, 2, rep.Redriven)
	require.NotNil(t, rep.Oldest)
	assert.Len(t, journalStatusRecords(t, p.src, "src", "docs/a"), before, "a dry run changes nothing")

	rep = RedriveReport{}
	runJSON(t, &rep, p.cmd("redrive --bucket src --older-than 1h", repl...)...)
	assert.Equal(t, 3, rep.Waiting, "docs/a, docs/b, logs/x wait")
	assert.Zero(t, rep.Redriven, "none waits for an hour")

	r := runOK(t, p.cmd("redrive --bucket src --prefix docs/", repl...)...)
	assert.Contains(t, r.stdout, `redrive src (prefix "docs/", older than 0s): 2 scanned, 2 waiting, 2 re-driven (journaled PENDING again)`)
	for key, id := range map[string]string{"docs/a": a, "docs/b": b} {
		recs := journalStatusRecords(t, p.src, "src", key)
		require.Len(t, recs, before+1, key)
		assert.Equal(t, id, recs[len(recs)-1]["versionId"])
		assert.Equal(t, string(bbproto.StatusPending), recs[len(recs)-1]["replication"].(map[string]any)["status"])
		assert.Equal(t, string(bbproto.StatusPending), statusOf(bbVersionOf(t, p.src, "src", key, id)))
	}
	assert.Empty(t, journalStatusRecords(t, p.src, "src", "logs/x"), "outside the prefix: left alone")
	assert.Equal(t, string(bbproto.StatusPending), statusOf(bbVersionOf(t, p.src, "src", "logs/x", other)))

	// Bad input.
	r = run(t, p.cmd("redrive", repl...)...)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "--bucket is required")
	r = run(t, p.cmd("redrive --bucket src")...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "need the replication identity")
	r = run(t, p.cmd("redrive --bucket nobucket", repl...)...)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket nobucket does not exist at "+p.src.URL)
	r = run(t, p.cmd("redrive --bucket src --older-than -1s", repl...)...)
	assert.Equal(t, ExitUsage, r.code, r)
}

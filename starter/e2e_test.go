package starter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/internal/devstack"
	"github.com/backbeat-temporal/backbeat/internal/enginetest"
	"github.com/backbeat-temporal/backbeat/s3server/s3test"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// binary runs bin/starter as a separate process.
type binary struct {
	path string
	env  []string
}

func buildStarter(t *testing.T, env ...string) *binary {
	t.Helper()
	return &binary{path: devstack.Build(t, "cmd/starter"), env: env}
}

func (b *binary) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.path, args...)
	cmd.Env = append(os.Environ(), b.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run %s: %v", b.path, err)
	}
	return r
}

func TestBinaryExitCodesAndHelp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds cmd/starter")
	}
	useProfiles(t)
	b := buildStarter(t)
	r := b.run(t)
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "a command is required")
	assert.Contains(t, r.stderr, "Available Commands:", "the help goes to stderr")
	r = b.run(t, "no-such-command")
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, `unknown command "no-such-command" for "starter"`)
	r = b.run(t, "validate", "--source-bucket")
	assert.Equal(t, ExitUsage, r.code, r)
	assert.Contains(t, r.stderr, "flag needs an argument: --source-bucket")
	r = b.run(t, "validate", "--source-bucket", "b", "--source-endpoint", closedURL(t), "--source-profile", profUser)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "(connection refused): is s3server running? (make demo starts it")
	r = b.run(t, "validate", "--source-bucket", "b", "--source-profile", noSuchProfile)
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, `source profile "`+noSuchProfile+`" not found in AWS_CONFIG_FILE=`)

	r = b.run(t, "--help")
	assert.Equal(t, ExitOK, r.code, r)
	for _, cmd := range []string{"setup", "validate", "status", "partitions", "failed", "pause", "resume", "backfill", "redrive"} {
		assert.Regexp(t, `(?m)^  `+cmd+`\s`, r.stdout)
	}
	assert.Contains(t, r.stdout, "Exit codes: 0 success, 1 a check or the operation failed")
}

func TestHelpDocumentsEveryFlagAndItsEnvironment(t *testing.T) {
	for _, cmd := range [][]string{{"setup"}, {"validate"}, {"status"}, {"partitions"}, {"failed"}, {"failed", "list"},
		{"failed", "retry"}, {"pause"}, {"resume"}, {"backfill"}, {"redrive"}, {"stats"}} {
		r := run(t, append(cmd, "--help")...)
		require.Equal(t, ExitOK, r.code, "%v: %s", cmd, r)
		for _, want := range []string{
			"--source-endpoint string", "(env BACKBEAT_SOURCE_ENDPOINT) (default \"http://127.0.0.1:8000\")",
			"--target-endpoint string", "default: the source endpoint) (env BACKBEAT_TARGET_ENDPOINT)",
			"(env BACKBEAT_SOURCE_PROFILE)", "(env BACKBEAT_TARGET_PROFILE)", "(env BACKBEAT_REPLICATION_PROFILE)",
			"(env BACKBEAT_TEMPORAL_ADDRESS) (default \"127.0.0.1:7233\")", "(env BACKBEAT_TIMEOUT) (default 10s)",
			"(env BACKBEAT_NAMESPACE) (default \"default\")", "(env BACKBEAT_TOPIC) (default \"backbeat-replication\")",
		} {
			assert.Contains(t, r.stdout, want, "%v --help", cmd)
		}
	}
	r := run(t, "setup", "--help")
	assert.Contains(t, r.stdout, `(env BACKBEAT_ROLE) (default "`+DefaultRole+`")`)
	assert.Contains(t, r.stdout, "--delete-markers")
	assert.Contains(t, r.stdout, "--site string")
	r = run(t, "stats", "--help")
	assert.Regexp(t, `--metrics-url strings\s+.*\(env BACKBEAT_METRICS_URL\) \(default \[http://127.0.0.1:9101/metrics`, r.stdout)
	assert.Regexp(t, `--kafka-brokers string\s+.*\(env BACKBEAT_KAFKA_BROKERS\) \(default "127.0.0.1:9092"\)`, r.stdout)
	assert.Regexp(t, `--group string\s+.*\(env BACKBEAT_GROUP\) \(default "backbeat-replication-group"\)`, r.stdout)
	assert.Contains(t, r.stdout, "(env BACKBEAT_KAFKA_SASL_MECHANISM)")
	r = run(t, "status", "--help")
	assert.Regexp(t, `--output string\s+output format: text or json \(env BACKBEAT_OUTPUT\) \(default "text"\)`, r.stdout)
}

// TestFailedRetryAndBackfillEndToEnd runs the whole engine (source and target s3server,
// ZooKeeper, the Kafka-protocol broker, Temporal, ingest, bridge, worker, each a separate
// process) and bin/starter as a user would: a version FAILS because the target bucket is
// gone, setup repairs the target, failed retry re-queues the version through the
// journal, and it ends COMPLETED with a REPLICA on the target; backfill does the same
// for a version written before replication was set up.
func TestFailedRetryAndBackfillEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: starts every process of the engine")
	}
	useProfiles(t)
	ctx := context.Background()
	e := enginetest.Start(t, enginetest.Options{Partitions: 2})
	src, dst, temporal := e.Src, e.Dst, e.Temporal

	// The user's environment: endpoints and profiles from the environment, as
	// `source .demo/env` gives them.
	b := buildStarter(t, EnvSourceEndpoint+"="+src.URL, EnvTargetEndpoint+"="+dst.URL, "AWS_PROFILE="+profUser,
		EnvReplicationProfile+"="+profReplication, EnvTemporalAddress+"="+temporal.Addr())
	srcC, dstC := src.Client(s3test.User), dst.Client(s3test.User)

	// A version written before replication is set up.
	s3test.MakeBucket(t, srcC, "source-bucket", s3types.BucketVersioningStatusEnabled)
	oldID := putObject(t, srcC, "source-bucket", "written-before", "old data")
	r := b.run(t, "setup", "--source-bucket", "source-bucket", "--target-bucket", "target-bucket", "--site", "dr")
	require.Equal(t, ExitOK, r.code, r)
	assert.Contains(t, r.stdout, "created: bucket target-bucket at "+dst.URL)

	// The target bucket disappears: the next version FAILS.
	_, err := dstC.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("target-bucket")})
	require.NoError(t, err)
	newID := putObject(t, srcC, "source-bucket", "dir/written after", "new data")
	var failed []FailedVersion
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := b.run(t, "failed", "list", "--output", "json")
		if assert.Equal(c, ExitOK, r.code, r.String()) && assert.NoError(c, json.Unmarshal([]byte(r.stdout), &failed)) {
			assert.Len(c, failed, 1)
		}
	}, 2*time.Minute, 200*time.Millisecond, "the version ends FAILED")
	assert.Equal(t, "source-bucket/dir/written after@"+newID, failed[0].Ref())
	assert.NotEmpty(t, failed[0].Reason)
	t.Logf("FAILED reason: %s", failed[0].Reason)
	r = b.run(t, "validate", "--source-bucket", "source-bucket")
	assert.Equal(t, ExitFailed, r.code, r)
	assert.Contains(t, r.stderr, "bucket target-bucket does not exist at "+dst.URL+": create it or run `starter setup`")
	r = b.run(t, "status", "--bucket", "source-bucket", "--key", "dir/written after")
	assert.Equal(t, ExitFailed, r.code, "the target bucket is missing: %s", r)
	assert.Regexp(t, `(?m)^`+newID+`\s+yes\s+object\s+\S+\s+FAILED\s+\? \(target-bucket unreadable\)\s+`+regexp.QuoteMeta(failed[0].Reason), r.stdout)

	// Repair, retry: the version goes through journal → Kafka → workflow again.
	r = b.run(t, "setup", "--source-bucket", "source-bucket", "--target-bucket", "target-bucket", "--site", "dr")
	require.Equal(t, ExitOK, r.code, r)
	assert.Contains(t, r.stdout, "created: bucket target-bucket")
	assert.Contains(t, r.stdout, "in place: replication configuration on source-bucket")
	r = b.run(t, "failed", "retry", "--all")
	require.Equal(t, ExitOK, r.code, r)
	assert.Contains(t, r.stdout, "re-queued source-bucket/dir/written after@"+newID)
	waitReplicated(t, b, "dir/written after", newID)

	// Backfill: the version written before setup has no status; it flows like new.
	r = b.run(t, "backfill", "--bucket", "source-bucket")
	require.Equal(t, ExitOK, r.code, r)
	assert.Equal(t, `backfill source-bucket (prefix ""): 2 scanned, 1 marked PENDING, 1 already had a status (COMPLETED 1), 0 matched no Enabled rule`+"\n", r.stdout)
	waitReplicated(t, b, "written-before", oldID)

	// What the partition workflows counted: 2 completed, 1 failed, over the partitions.
	var parts []PartitionStatus
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := b.run(t, "partitions", "--output", "json")
		if !assert.Equal(c, ExitOK, r.code, r.String()) || !assert.NoError(c, json.Unmarshal([]byte(r.stdout), &parts)) {
			return
		}
		var completed, failed int64
		for _, p := range parts {
			if assert.NotNil(c, p.Status) {
				completed += p.Status.Completed
				failed += p.Status.Failed
			}
		}
		assert.EqualValues(c, 2, completed)
		assert.EqualValues(c, 1, failed)
	}, time.Minute, 200*time.Millisecond)
	r = b.run(t, "failed", "list")
	require.Equal(t, ExitOK, r.code, r)
	assert.Equal(t, "no FAILED version in source-bucket\n", r.stdout)
}

// waitReplicated waits until status shows the version COMPLETED on the source and
// REPLICA on the target.
func waitReplicated(t *testing.T, b *binary, key, id string) {
	t.Helper()
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		r := b.run(t, "status", "--bucket", "source-bucket", "--key", key, "--version-id", id, "--output", "json")
		var st []VersionStatus
		if assert.Equal(c, ExitOK, r.code, r.String()) && assert.NoError(c, json.Unmarshal([]byte(r.stdout), &st)) && assert.Len(c, st, 1) {
			assert.Equal(c, string(bbproto.StatusCompleted), st[0].SourceStatus, fmt.Sprintf("%+v", st[0]))
			assert.Equal(c, string(bbproto.StatusReplica), st[0].Target.Status)
			assert.Equal(c, "target-bucket", st[0].Target.Bucket)
		}
	}, 2*time.Minute, 200*time.Millisecond, "%s@%s ends COMPLETED / REPLICA", key, id)
	r := b.run(t, "status", "--bucket", "source-bucket", "--key", key, "--version-id", id)
	require.Equal(t, ExitOK, r.code, r)
	assert.Regexp(t, `(?m)^`+id+`\s+yes\s+object\s+\S+\s+COMPLETED\s+REPLICA in target-bucket\s+-$`, r.stdout)
}

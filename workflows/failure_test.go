package workflows

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

func TestRetriesThenFailedThenNext(t *testing.T) {
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if in.Entry.Offset == 1 {
			return contract.ReplicateResult{}, temporal.NewApplicationError(fmt.Sprintf("target unreachable (attempt %d)", attempt), "TargetUnavailable")
		}
		return contract.ReplicateResult{Bytes: 7}, nil
	}}
	env := newEnv(t, f)
	beforeDurable(env)
	signalAt(env, 0, entries(0, 1, 2))
	// Backoff 1 s ×1.5: attempts of entry 1 start at 0, 1, 2.5, 4.75, 8.125, 13.19 s.
	queryAt(t, env, 5*time.Second, func(s contract.Status) {
		require.NotNil(t, s.Current)
		assert.Equal(t, int64(1), s.Current.Offset)
		assert.Equal(t, contract.PhaseReplicate, s.Current.Phase)
		assert.Equal(t, 2, s.Backlog)
		assert.Equal(t, int64(1), s.Completed)
		assert.Contains(t, env.Now().Sub(s.Current.Since).String(), "5s")
	})
	queryAt(t, env, 20*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Processed)
		assert.Equal(t, int64(2), s.Completed)
		assert.Equal(t, int64(1), s.Failed)
		assert.Equal(t, int64(14), s.Bytes)
		assert.Contains(t, s.LastError, "offset 1 source-bucket/key-1@v1: target unreachable (attempt 6) (gave up after 6 attempts)")
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1, Retry: oldRetry}), time.Minute)

	want := completedSequence(0)
	for a := 1; a <= 6; a++ {
		want = append(want, fmt.Sprintf("R1#%d", a))
	}
	want = append(want, "Sv1=FAILED#1")
	want = append(want, completedSequence(2)...)
	assert.Equal(t, want, f.Events())
	st := f.Statuses()
	require.Len(t, st, 3)
	assert.Equal(t, contract.SetStatusInput{Bucket: "source-bucket", Key: "key-1", VersionID: "v1", Status: bbproto.StatusFailed,
		Reason: "target unreachable (attempt 6) (gave up after 6 attempts)"}, st[1])
}

func TestConfiguredRetries(t *testing.T) {
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		return contract.ReplicateResult{}, errors.New("boom")
	}}
	env := newEnv(t, f)
	beforeDurable(env)
	signalAt(env, 0, entries(0))
	runUntil(t, env, params(contract.Config{Retry: contract.RetryConfig{MaxRetries: 2}}), time.Minute)
	assert.Equal(t, 3, f.count("R0#"), "MaxRetries 2 → 3 attempts")
	require.Len(t, f.Statuses(), 1)
	assert.Equal(t, "boom (gave up after 3 attempts)", f.Statuses()[0].Reason)

	f = &fakes{replicate: f.replicate}
	env = newEnv(t, f)
	beforeDurable(env)
	signalAt(env, 0, entries(0))
	runUntil(t, env, params(contract.Config{Retry: contract.RetryConfig{MaxRetries: contract.NoRetries}}), time.Minute)
	assert.Equal(t, 1, f.count("R0#"), "NoRetries → 1 attempt")
}

func TestNonRetryableFailsAtOnce(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		reason string
	}{
		{"access denied", temporal.NewApplicationError("target refused PutObject", contract.KindAccessDenied.ErrorType()),
			"AccessDenied: target refused PutObject (not retried)"},
		{"invalid config", temporal.NewApplicationError("no rule matches", contract.KindInvalidConfig.ErrorType()),
			"InvalidConfig: no rule matches (not retried)"},
		{"no such bucket", temporal.NewApplicationError("target-bucket does not exist", contract.KindNoSuchBucket.ErrorType()),
			"NoSuchBucket: target-bucket does not exist (not retried)"},
		{"generic", temporal.NewApplicationError("cannot", contract.KindNonRetryable.ErrorType()), "NonRetryable: cannot (not retried)"},
		{"flagged", temporal.NewNonRetryableApplicationError("flagged by the activity", "Other", nil),
			"flagged by the activity (not retried)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
				if in.Entry.Offset == 0 {
					return contract.ReplicateResult{}, c.err
				}
				return contract.ReplicateResult{}, nil
			}}
			env := newEnv(t, f)
			signalAt(env, 0, entries(0, 1))
			runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
			assert.Equal(t, []string{"R0#1", "Sv0=FAILED#1", "R1#1", "Sv1=COMPLETED#1"}, f.Events())
			assert.Equal(t, c.reason, f.Statuses()[0].Reason)
		})
	}
}

func TestSourceVersionGoneIsSkipped(t *testing.T) {
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if in.Entry.Offset == 0 {
			return contract.ReplicateResult{}, temporal.NewApplicationError("source version v0 is gone", contract.KindSourceGone.ErrorType())
		}
		return contract.ReplicateResult{}, nil
	}}
	env := newEnv(t, f)
	signalAt(env, 0, entries(0, 1))
	queryAt(t, env, 30*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(1), s.Skipped)
		assert.Equal(t, int64(1), s.Completed)
		assert.Equal(t, int64(0), s.Failed)
		assert.Equal(t, int64(2), s.Processed)
		assert.Contains(t, s.LastError, "NoSuchVersion: source version v0 is gone")
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	assert.Equal(t, []string{"R0#1", "R1#1", "Sv1=COMPLETED#1"}, f.Events(), "no status write for a version that is gone")
}

func TestSetStatusRetriedUntilWritten(t *testing.T) {
	f := &fakes{setStatus: func(in contract.SetStatusInput, attempt int32) error {
		if in.VersionID == "v0" && attempt <= 8 {
			return temporal.NewApplicationError("source endpoint down", "Unavailable")
		}
		if in.VersionID == "v1" {
			return temporal.NewApplicationError("version v1 is gone", contract.KindSourceGone.ErrorType())
		}
		return nil
	}}
	env := newEnv(t, f)
	beforeDurable(env)
	signalAt(env, 0, entries(0, 1, 2))
	// The old default status policy retries forever (MaximumAttempts 0, see
	// TestConfigDefaults); the test environment turns "forever" into 10 attempts, so 8
	// failures are used here: more than the replication policy's 6 attempts, with
	// backoff 1 s ×2 capped at 60 s: 1+2+4+8+16+32+60+60 = 183 s.
	queryAt(t, env, 170*time.Second, func(s contract.Status) {
		require.NotNil(t, s.Current, "still writing the status of entry 0")
		assert.Equal(t, int64(0), s.Current.Offset)
		assert.Equal(t, contract.PhaseSetStatus, s.Current.Phase)
		assert.Equal(t, bbproto.StatusCompleted, s.Current.Status)
		assert.Equal(t, int64(0), s.Processed)
	})
	queryAt(t, env, 10*time.Minute, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Processed)
		assert.Equal(t, int64(3), s.Completed)
		assert.Equal(t, int64(1), s.StatusErrors)
		assert.Contains(t, s.LastError, "could not set status COMPLETED: NoSuchVersion: version v1 is gone (not retried)")
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1, StatusRetry: oldStatusRetry}), time.Hour)
	assert.Equal(t, 9, f.count("Sv0=COMPLETED#"), "8 failures then the write")
	assert.Equal(t, 1, f.count("Sv1=COMPLETED#"), "no version to mark: not retried")
	assert.Equal(t, []string{"v0", "v2"}, []string{f.Statuses()[0].VersionID, f.Statuses()[1].VersionID})
}

func TestNotReplicableEntries(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	completed := entry(0)
	completed.Record.Op = bbproto.OpStatus
	completed.Record.Replication.Status = bbproto.StatusCompleted
	noRepl := entry(1)
	noRepl.Record.Replication = nil
	deleted := entry(2)
	deleted.Record.Op = bbproto.OpDeleteVersion
	metaOnly := entry(3)
	metaOnly.Record.Op = bbproto.OpMetadata
	metaOnly.Record.Replication.Content = []bbproto.Content{bbproto.ContentMetadata}
	retry := entry(4)
	retry.Record.Op = bbproto.OpStatus // back to PENDING: starter failed retry
	marker := entry(5)
	marker.Record.Op = bbproto.OpDeleteMarker
	marker.Record.IsDeleteMarker = true
	signalAt(env, 0, contract.EntriesSignal{Entries: []contract.Entry{completed, noRepl, deleted, metaOnly, retry, marker}})
	queryAt(t, env, 30*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(6), s.Processed)
		assert.Equal(t, int64(2), s.Skipped)
		assert.Equal(t, int64(1), s.Failed)
		assert.Equal(t, int64(3), s.Completed)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	assert.Equal(t, []string{
		"Sv2=FAILED#1",
		"R3#1", "Sv3=COMPLETED#1",
		"R4#1", "Sv4=COMPLETED#1",
		"R5#1", "Sv5=COMPLETED#1",
	}, f.Events())
	assert.Equal(t, `not replicable: op "delete-version" with replication status PENDING`, f.Statuses()[0].Reason)
	assert.Equal(t, metaOnly, f.inputs[0].Entry, "metadata-only entries go to the same activity, untouched")
}

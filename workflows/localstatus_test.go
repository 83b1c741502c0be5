package workflows

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

func TestLocalStatusDefault(t *testing.T) {
	assert.True(t, *contract.DefaultConfig().LocalStatus)
	off := false
	assert.False(t, *contract.Config{LocalStatus: &off}.WithDefaults().LocalStatus)

	f := &fakes{}
	env := newEnv(t, f)
	calls := countStatusCalls(env)
	signalAt(env, 0, entries(0, 1, 2))
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	assert.Equal(t, completedSequence(0, 1, 2), f.Events())
	regular, local := calls.get()
	assert.Equal(t, 0, regular)
	assert.Equal(t, 3, local, "the status writes are local activities, called by their registered name")
}

// TestRegularStatusActivity: with LocalStatus false the status write is today's regular
// activity, retried by the server's policy, FAILED reasons and fail-fast types as before.
func TestRegularStatusActivity(t *testing.T) {
	f := &fakes{
		replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
			if in.Entry.Offset == 1 {
				return contract.ReplicateResult{}, temporal.NewApplicationError("denied", contract.KindAccessDenied.ErrorType())
			}
			return contract.ReplicateResult{}, nil
		},
		setStatus: func(in contract.SetStatusInput, attempt int32) error {
			switch {
			case in.VersionID == "v0" && attempt <= 3:
				return temporal.NewApplicationError("source endpoint down", "Unavailable")
			case in.VersionID == "v2":
				return temporal.NewApplicationError("version v2 is gone", contract.KindSourceGone.ErrorType())
			}
			return nil
		},
	}
	env := newEnv(t, f)
	calls := countStatusCalls(env)
	signalAt(env, 0, entries(0, 1, 2, 3))
	off := false
	queryAt(t, env, 10*time.Minute, func(s contract.Status) {
		assert.Equal(t, int64(4), s.Processed)
		assert.Equal(t, int64(3), s.Completed)
		assert.Equal(t, int64(1), s.Failed)
		assert.Equal(t, int64(1), s.StatusErrors)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1, LocalStatus: &off}), time.Hour)
	assert.Equal(t, 4, f.count("Sv0=COMPLETED#"), "3 failures then the write")
	assert.Equal(t, 1, f.count("Sv2=COMPLETED#"), "fail-fast: not retried")
	st := f.Statuses()
	require.Len(t, st, 3)
	assert.Equal(t, contract.SetStatusInput{Bucket: "source-bucket", Key: "key-1", VersionID: "v1", Status: bbproto.StatusFailed,
		Reason: "AccessDenied: denied (not retried)"}, st[1])
	regular, local := calls.get()
	assert.Equal(t, 4+3, regular, "every attempt a regular activity")
	assert.Equal(t, 0, local)
}

// TestLocalStatusTransientFailuresRetried: the local status write is retried with
// Config.StatusRetry's backoff (1 s ×2 capped at 60 s), past StatusTimeout (the SDK
// would otherwise bound the retries by a ScheduleToClose of StartToClose), while the
// query shows the entry writing its status and other objects go on.
func TestLocalStatusTransientFailuresRetried(t *testing.T) {
	var times []time.Time
	var env *testsuite.TestWorkflowEnvironment
	f := &fakes{setStatus: func(in contract.SetStatusInput, attempt int32) error {
		if in.VersionID == "v0" {
			times = append(times, env.Now())
			if attempt <= 7 {
				return temporal.NewApplicationError("source endpoint down", "Unavailable")
			}
		}
		return nil
	}}
	env = newEnv(t, f)
	beforeDurable(env)
	calls := countStatusCalls(env)
	signalAt(env, 0, windowEntries([]string{"a", "a", "b"}, 0, 1, 2))
	// 7 failures: 1+2+4+8+16+32+60 = 123 s of backoff, well past StatusTimeout (30 s).
	queryAt(t, env, 100*time.Second, func(s contract.Status) {
		require.Len(t, s.InFlight, 1, "entry 0 writing its status; 1 waits for it; 2 done")
		assert.Equal(t, int64(0), s.InFlight[0].Offset)
		assert.Equal(t, contract.PhaseSetStatus, s.InFlight[0].Phase)
		assert.Equal(t, int64(1), s.Completed, "entry 2 (another object) went on")
	})
	queryAt(t, env, 10*time.Minute, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Completed)
		assert.Equal(t, int64(0), s.StatusErrors)
	})
	runUntil(t, env, params(contract.Config{StatusTimeout: 30 * time.Second, StatusRetry: oldStatusRetry}), time.Hour)
	assert.Equal(t, 8, f.count("Sv0=COMPLETED#"), "7 failures then the write")
	for a := 1; a <= 8; a++ {
		assert.Contains(t, f.Events(), fmt.Sprintf("Sv0=COMPLETED#%d", a))
	}
	require.Len(t, times, 8)
	var gaps []time.Duration
	for i := 1; i < len(times); i++ {
		gaps = append(gaps, times[i].Sub(times[i-1]).Round(time.Second))
	}
	assert.Equal(t, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second,
		16 * time.Second, 32 * time.Second, 60 * time.Second}, gaps, "the status retry policy's backoff")
	// Entry 1 (same object) only after entry 0's status is written.
	ev := f.Events()
	assert.Less(t, slices.Index(ev, "Sv0=COMPLETED#8"), slices.Index(ev, "R1#1"))
	regular, local := calls.get()
	assert.Equal(t, 0, regular)
	assert.Equal(t, 8+2, local)
}

// TestLocalStatusNotOnOldHistories: a run whose history began before LocalStatus
// (GetVersion answers DefaultVersion) keeps the regular activity.
func TestLocalStatusNotOnOldHistories(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	env.OnGetVersion(localStatusChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	calls := countStatusCalls(env)
	signalAt(env, 0, entries(0, 1))
	runUntil(t, env, params(contract.Config{}), time.Minute)
	assert.Len(t, f.Statuses(), 2)
	regular, local := calls.get()
	assert.Equal(t, 2, regular)
	assert.Equal(t, 0, local)
}

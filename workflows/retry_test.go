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

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

// unavailable is a retryable replication or status failure.
func unavailable(what string) error {
	return temporal.NewApplicationError(what+" unavailable", contract.ErrTypeRetryable)
}

// attemptTimes records the workflow time of each attempt of one offset's replication.
type attemptTimes struct {
	env   *testsuite.TestWorkflowEnvironment
	start time.Time
	at    map[int64][]time.Duration
}

func (a *attemptTimes) record(off int64) time.Duration {
	d := a.env.Now().Sub(a.start).Round(100 * time.Millisecond)
	a.at[off] = append(a.at[off], d)
	return d
}

func newAttemptTimes(env *testsuite.TestWorkflowEnvironment) *attemptTimes {
	a := &attemptTimes{env: env, at: map[int64][]time.Duration{}}
	env.RegisterDelayedCallback(func() {}, 0)
	a.start = env.Now()
	return a
}

// A failing replication is retried in a first burst (Temporal's policy: 1, 2, 4 s), then
// by workflow timers continuing the same backoff (8, 16, 32 s...), and completes when the
// target answers; the status query shows it waiting meanwhile.
func TestDurableBackoffSchedule(t *testing.T) {
	var at *attemptTimes
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if d := at.record(in.Entry.Offset); d < time.Minute {
			return contract.ReplicateResult{}, unavailable("target")
		}
		return contract.ReplicateResult{}, nil
	}}
	env := newEnv(t, f)
	at = newAttemptTimes(env)
	signalAt(env, 0, entries(0))
	queryAt(t, env, 20*time.Second, func(s contract.Status) {
		assert.Empty(t, s.InFlight, "waiting entries leave the window")
		require.Len(t, s.Waiting, 1)
		w := s.Waiting[0]
		assert.Equal(t, int64(0), w.Offset)
		assert.Equal(t, contract.PhaseReplicate, w.Phase)
		assert.Equal(t, 2, w.Bursts)
		assert.Equal(t, "v0", w.VersionID)
		assert.Equal(t, contract.TargetSitePrefix, w.Target)
		assert.Contains(t, w.LastError, "target unavailable")
		assert.Equal(t, 16*time.Second, w.Next.Sub(at.start).Round(time.Second)-15*time.Second, "the 6th attempt is 16 s after the 5th")
		assert.Equal(t, int64(2), s.Retried)
		require.NotNil(t, s.Config)
		assert.Equal(t, 24*time.Hour, s.Config.RetryBudget)
	})
	runUntil(t, env, params(contract.Config{BreakerThreshold: -1}), 5*time.Minute)

	assert.Equal(t, []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second,
		31 * time.Second, 63 * time.Second}, at.at[0], "1, 2, 4 s in the burst, then 8, 16, 32 s on timers")
	require.Len(t, f.Statuses(), 1)
	assert.Equal(t, bbproto.StatusCompleted, f.Statuses()[0].Status)
}

// A replication still failing when its retry budget is spent is marked FAILED with the
// last error, the attempts and the time spent.
func TestDurableBudgetSpentMarksFailed(t *testing.T) {
	var at *attemptTimes
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		at.record(in.Entry.Offset)
		return contract.ReplicateResult{}, unavailable("target")
	}}
	env := newEnv(t, f)
	at = newAttemptTimes(env)
	signalAt(env, 0, entries(0))
	queryAt(t, env, 10*time.Minute, func(s contract.Status) {
		assert.Equal(t, int64(1), s.Failed)
		assert.Empty(t, s.Waiting)
	})
	runUntil(t, env, params(contract.Config{BreakerThreshold: -1, RetryBudget: time.Minute}), 15*time.Minute)

	// First failure at 7 s (end of the burst); failures at 15, 31, 63 s are within the
	// minute, the one at 127 s is past it.
	assert.Equal(t, []time.Duration{0, 1 * time.Second, 3 * time.Second, 7 * time.Second, 15 * time.Second,
		31 * time.Second, 63 * time.Second, 127 * time.Second}, at.at[0])
	require.Len(t, f.Statuses(), 1)
	st := f.Statuses()[0]
	assert.Equal(t, bbproto.StatusFailed, st.Status)
	assert.Equal(t, "target unavailable (gave up after 8 attempts over 2m0s)", st.Reason)
}

// While one object waits to retry, the window (of one here) replicates the other
// objects; the waiting object's later version waits for it.
func TestDurableOtherObjectsMoveWhileOneWaits(t *testing.T) {
	var env *testsuite.TestWorkflowEnvironment
	var start time.Time
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if in.Entry.Record.Key == "A" && env.Now().Sub(start) < 30*time.Second {
			return contract.ReplicateResult{}, unavailable("target")
		}
		return contract.ReplicateResult{}, nil
	}}
	env = newEnv(t, f)
	env.RegisterDelayedCallback(func() { start = env.Now() }, 0)
	signalAt(env, 0, windowEntries([]string{"A", "B", "A", "C", "D"}, 0, 1, 2, 3, 4))
	queryAt(t, env, 20*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Completed, "B, C and D went on")
		assert.Equal(t, 2, s.Backlog, "A's two versions")
		assert.Equal(t, []int64{0}, offsetsOf(s.Waiting))
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1, BreakerThreshold: -1}), 5*time.Minute)

	var order []string
	for _, s := range f.Statuses() {
		order = append(order, s.VersionID+"="+string(s.Status))
	}
	assert.Equal(t, []string{"v1=COMPLETED", "v3=COMPLETED", "v4=COMPLETED", "v0=COMPLETED", "v2=COMPLETED"}, order)
	ev := f.Events()
	assert.Less(t, slices.Index(ev, "Sv0=COMPLETED#1"), slices.Index(ev, "R2#1"), "A's versions in order")
}

func offsetsOf(rs []contract.RetryState) []int64 {
	var o []int64
	for _, r := range rs {
		o = append(o, r.Offset)
	}
	return o
}

// siteEntry is entry(off) of object key, replicated to site.
func siteEntry(off int64, key, site string) contract.Entry {
	e := keyed(off, key)
	e.Record.Replication.Site = site
	return e
}

// An open breaker's probes rotate: an entry that keeps failing for its own reasons does
// not keep its site's other entries waiting.
func TestBreakerProbesRotate(t *testing.T) {
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if in.Entry.Record.Key == "poison" {
			return contract.ReplicateResult{}, unavailable("poison key")
		}
		return contract.ReplicateResult{}, nil
	}}
	env := newEnv(t, f)
	signalAt(env, 0, windowEntries([]string{"poison"}, 0))
	signalAt(env, time.Second, windowEntries([]string{"a", "b", "c"}, 1, 2, 3))
	queryAt(t, env, 10*time.Minute, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Completed, "a, b and c probed in turn and completed")
		assert.Equal(t, []int64{0}, offsetsOf(s.Waiting))
	})
	runUntil(t, env, params(contract.Config{BreakerThreshold: 1, MaxConcurrent: 1}), 15*time.Minute)
}

// When BreakerThreshold entries of one site fail in a row, its breaker opens: the
// site's other entries wait without attempts while one probe retries; another site's
// entries go on; the first successful probe closes the breaker and every entry
// completes.
func TestBreakerOpensHoldsAndCloses(t *testing.T) {
	var env *testsuite.TestWorkflowEnvironment
	var start time.Time
	down := 3 * time.Minute
	attempts := map[string]int{}
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		site := in.Entry.Record.Replication.Site
		attempts[site]++
		if site == "dr" && env.Now().Sub(start) < down {
			return contract.ReplicateResult{}, unavailable("site dr")
		}
		return contract.ReplicateResult{}, nil
	}}
	env = newEnv(t, f)
	env.RegisterDelayedCallback(func() { start = env.Now() }, 0)
	var sig contract.EntriesSignal
	for o := range int64(10) {
		sig.Entries = append(sig.Entries, siteEntry(o, fmt.Sprintf("k%d", o), "dr"))
	}
	signalAt(env, 0, sig)
	signalAt(env, time.Minute, signalOf(siteEntry(10, "other", "backup")))
	queryAt(t, env, 2*time.Minute, func(s contract.Status) {
		require.Len(t, s.Breakers, 1)
		b := s.Breakers[0]
		assert.Equal(t, contract.TargetSitePrefix+"dr", b.Target)
		assert.True(t, b.Open)
		assert.Contains(t, b.LastError, "site dr unavailable")
		assert.Equal(t, int64(1), s.BreakerOpened)
		assert.Equal(t, 10, s.WaitingCount, "every dr entry waits")
		assert.Equal(t, int64(1), s.Completed, "the other site's entry went on")
	})
	queryAt(t, env, 30*time.Minute, func(s contract.Status) {
		assert.Empty(t, s.Breakers)
		assert.Zero(t, s.WaitingCount)
		assert.Equal(t, int64(11), s.Completed)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 2, BreakerThreshold: 3}), time.Hour)

	// Without the breaker each of the 10 entries would make 4 + ~5 attempts in 3 min.
	assert.Less(t, attempts["dr"], 40, "attempts on the down site, 10 entries: %d", attempts["dr"])
	assert.Len(t, f.Statuses(), 11)
	for _, s := range f.Statuses() {
		assert.Equal(t, bbproto.StatusCompleted, s.Status)
	}
}

// A status write that keeps failing is retried in bursts on the backoff (capped at
// StatusRetry's maximum), the entry waiting outside the window, without end; the
// source's breaker holds other status writes; everything is written once the source
// is back.
func TestDurableStatusWritesBounded(t *testing.T) {
	var env *testsuite.TestWorkflowEnvironment
	var start time.Time
	down := time.Hour
	f := &fakes{setStatus: func(in contract.SetStatusInput, attempt int32) error {
		if env.Now().Sub(start) < down {
			return unavailable("source")
		}
		return nil
	}}
	env = newEnv(t, f)
	env.RegisterDelayedCallback(func() { start = env.Now() }, 0)
	signalAt(env, 0, windowEntries([]string{"a", "b", "c"}, 0, 1, 2))
	queryAt(t, env, 30*time.Minute, func(s contract.Status) {
		assert.Equal(t, 3, s.WaitingCount)
		for _, w := range s.Waiting {
			assert.Equal(t, contract.PhaseSetStatus, w.Phase)
			assert.Equal(t, bbproto.StatusCompleted, w.Status)
			assert.Equal(t, contract.TargetSource, w.Target)
		}
		require.Len(t, s.Breakers, 1)
		assert.Equal(t, contract.TargetSource, s.Breakers[0].Target)
		assert.Zero(t, s.Processed)
	})
	queryAt(t, env, down+5*time.Minute, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Completed)
		assert.Zero(t, s.StatusErrors)
		assert.Positive(t, s.StatusRetried)
	})
	runUntil(t, env, params(contract.Config{BreakerThreshold: 2}), down+10*time.Minute)
	assert.Len(t, f.Statuses(), 3)
	// One hour down: a burst of 5 per entry, then about one probe per minute.
	assert.Less(t, f.count("S"), 3*5+70, "status attempts")
}

// The retry state (waiting entries, breakers) is carried across ContinueAsNew, and the
// next run retries the entry when it is due, with a single attempt.
func TestDurableRetryStateAcrossContinueAsNew(t *testing.T) {
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if in.Entry.Offset == 0 {
			return contract.ReplicateResult{}, unavailable("target")
		}
		return contract.ReplicateResult{}, nil
	}}
	env := newEnv(t, f)
	signalAt(env, 0, windowEntries([]string{"A", "B"}, 0, 1))
	// B done: the ContinueAsNew is due, and happens when A's first burst has failed.
	cfg := contract.Config{ContinueAsNewAfter: 1}
	env.ExecuteWorkflow(contract.WorkflowName, params(cfg))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	require.NotNil(t, p.State)
	assert.Equal(t, cfg, p.Config)
	assert.Equal(t, []int64{0}, offsets(p.State.Queue), "B done, A waits")
	require.Len(t, p.State.Retries, 1)
	rs := p.State.Retries[0]
	assert.Equal(t, int64(0), rs.Offset)
	assert.Equal(t, 1, rs.Bursts)
	assert.Equal(t, contract.PhaseReplicate, rs.Phase)
	assert.Equal(t, []contract.Breaker{{Target: contract.TargetSitePrefix, Failures: 1, LastError: "target unavailable"}},
		p.State.Breakers, "the target's failures so far, below the threshold")

	// The next run fails once more, then succeeds: the entry resumes as a later burst
	// (single attempts, spaced by the backoff), not as a new first burst of 4 attempts.
	failed := false
	f2 := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if !failed {
			failed = true
			return contract.ReplicateResult{}, unavailable("target")
		}
		return contract.ReplicateResult{}, nil
	}}
	env2 := newEnv(t, f2)
	queryAt(t, env2, time.Hour, func(s contract.Status) {
		assert.Equal(t, int64(2), s.Completed)
		assert.Equal(t, int64(2), s.Retried, "one retried burst per run")
		assert.Zero(t, s.WaitingCount)
	})
	p.Config.ContinueAsNewAfter = 100
	runUntil(t, env2, p, 2*time.Hour)
	assert.Equal(t, []string{"R0#1", "R0#1", "Sv0=COMPLETED#1"}, f2.Events(), "single attempts, then the status")
}

// The worker's configuration (the local activity) overrides the one in Params for the
// fields it sets; a run begun before durable retries does not read it.
func TestWorkerConfigOverridesParams(t *testing.T) {
	f := &fakes{worker: contract.Config{MaxConcurrent: 3, RetryBudget: time.Hour, Retry: contract.RetryConfig{MaxRetries: 1}}}
	env := newEnv(t, f)
	queryAt(t, env, time.Second, func(s contract.Status) {
		require.NotNil(t, s.Config)
		assert.Equal(t, 3, s.Config.MaxConcurrent)
		assert.Equal(t, time.Hour, s.Config.RetryBudget)
		assert.Equal(t, 1, s.Config.Retry.MaxRetries)
		assert.Equal(t, 7*time.Second, s.Config.Retry.InitialInterval, "from Params")
		assert.Equal(t, 2, s.Config.ContinueAsNewAfter, "from Params")
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 5, ContinueAsNewAfter: 2, Retry: contract.RetryConfig{InitialInterval: 7 * time.Second}}), time.Minute)

	env = newEnv(t, f)
	beforeDurable(env)
	queryAt(t, env, time.Second, func(s contract.Status) {
		assert.Nil(t, s.Config, "no durable retries: the status has no config")
	})
	runUntil(t, env, params(contract.Config{}), time.Minute)
}

func TestRetryDelay(t *testing.T) {
	rc := contract.DefaultRetry()
	var got []time.Duration
	for n := 1; n <= 12; n++ {
		got = append(got, rc.Delay(n))
	}
	assert.Equal(t, []time.Duration{1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 16 * time.Second,
		32 * time.Second, 64 * time.Second, 128 * time.Second, 256 * time.Second, 5 * time.Minute, 5 * time.Minute, 5 * time.Minute}, got)
	assert.Equal(t, 4, attemptsMade(rc, 1))
	assert.Equal(t, 6, attemptsMade(rc, 3))
}

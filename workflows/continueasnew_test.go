package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
)

func TestContinueAsNewCarriesQueueAndLateSignals(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	cfg := contract.Config{MaxConcurrent: 1, ContinueAsNewAfter: 3, Retry: contract.RetryConfig{MaxRetries: 3}}
	signalAt(env, 0, entries(0, 1, 2, 3, 4))
	// Entry 2 is marked from 5 s to 6 s; then the run must continue as new. These
	// signals reach the workflow in the same workflow task as that completion: only
	// draining the channels before ContinueAsNew keeps them.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalEntries, entries(4, 5, 6))
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalPause, nil)
	}, 5500*time.Millisecond)
	env.ExecuteWorkflow(contract.WorkflowName, params(cfg))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())

	assert.Equal(t, completedSequence(0, 1, 2), f.Events())
	require.NotNil(t, p.State)
	assert.Equal(t, []int64{3, 4, 5, 6}, offsets(p.State.Queue), "queue carried in order, without loss or duplicates")
	assert.Equal(t, entry(5), p.State.Queue[2])
	assert.Equal(t, int64(7), p.State.NextOffset)
	assert.Equal(t, int64(3), p.State.Processed)
	assert.Equal(t, int64(1), p.State.Duplicates)
	assert.True(t, p.State.Paused, "the pause signal drained before ContinueAsNew is kept")
	assert.Equal(t, 1, p.State.Runs)
	assert.Equal(t, testTopic, p.Topic)
	assert.Equal(t, testPartition, p.Partition)
	assert.Equal(t, cfg, p.Config, "Params' configuration carried as received: the next run reads the worker's again")

	// The next run picks up where this one stopped.
	f2 := &fakes{}
	env2 := newEnv(t, f2)
	signalAt(env2, 0, entries(6, 7)) // 6 redelivered
	queryAt(t, env2, time.Second, func(s contract.Status) {
		assert.True(t, s.Paused)
		assert.Equal(t, 5, s.Backlog)
		assert.Equal(t, 2, s.Run)
		assert.Equal(t, int64(2), s.Duplicates)
		assert.Equal(t, 0, s.ProcessedThisRun)
		env2.SignalWorkflow(contract.SignalResume, nil)
	})
	queryAt(t, env2, 10*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(8), s.Processed)
		assert.Equal(t, 0, s.Backlog)
	})
	p.Config.ContinueAsNewAfter = 100
	runUntil(t, env2, p, time.Minute)
	assert.Equal(t, completedSequence(3, 4, 5, 6, 7), f2.Events())
}

func TestContinueAsNewWhenSuggested(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(0, 1, 2, 3, 4))
	// Entry 1 is in flight from 2 s to 4 s: the suggestion waits for it.
	env.RegisterDelayedCallback(func() { env.SetContinueAsNewSuggested(true) }, 2500*time.Millisecond)
	env.ExecuteWorkflow(contract.WorkflowName, params(contract.Config{MaxConcurrent: 1}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	assert.Equal(t, completedSequence(0, 1), f.Events(), "the entry in flight finishes first")
	assert.Equal(t, []int64{2, 3, 4}, offsets(p.State.Queue))
	assert.Equal(t, int64(2), p.State.Processed)
}

func TestContinueAsNewAfterMaxSignalsDrainsBufferedSignals(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalPause, nil) }, 0)
	// Three signals handled in one workflow task: the loop takes the first, reaches
	// MaxSignalsPerRun (pause + 1), and must drain the other two before ContinueAsNew.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalEntries, entries(0))
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalEntries, entries(1, 2))
		env.SignalWorkflow(contract.SignalEntries, entries(2, 3))
	}, time.Second)
	env.ExecuteWorkflow(contract.WorkflowName, params(contract.Config{MaxConcurrent: 1, MaxSignalsPerRun: 2}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	assert.Empty(t, f.Events(), "paused: nothing replicated")
	assert.Equal(t, []int64{0, 1, 2, 3}, offsets(p.State.Queue), "no buffered signal lost")
	assert.Equal(t, int64(1), p.State.Duplicates)
	assert.True(t, p.State.Paused, "a paused partition stays paused in the next run")
}

func TestContinueAsNewPostponedWhileBacklogTooBig(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	limit := 2*entrySize(entry(9)) + 10
	signalAt(env, 0, entries(span(0, 5)...))
	env.ExecuteWorkflow(contract.WorkflowName, params(contract.Config{MaxConcurrent: 1, ContinueAsNewAfter: 1, MaxCarryBytes: limit}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	assert.Equal(t, []int64{4, 5}, offsets(p.State.Queue), "continued as new once the backlog fit")
	assert.Equal(t, completedSequence(0, 1, 2, 3), f.Events())
}

func TestWindowContinueAsNewDrainsInFlight(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	// Entries 0–2, 4, 5: 0.5 s per activity; entry 3: 3 s per activity.
	dur := func(off int64) time.Duration {
		if off == 3 {
			return 3 * time.Second
		}
		return 500 * time.Millisecond
	}
	slowBy(env, f, dur, 500*time.Millisecond, 3*time.Second)
	tl := newTimeline(env)
	signalAt(env, 0, entries(span(0, 8)...))
	// At 1 s entries 0–2 finish: 4 and 5 take the free places, then the third
	// completion makes ContinueAsNewAfter (3) due: nothing else starts.
	queryAt(t, env, 3*time.Second, func(s contract.Status) {
		assert.Equal(t, []int64{3}, refOffsets(s.InFlight), "no entry starts once a ContinueAsNew is due")
		assert.Equal(t, 4, s.Backlog)
		assert.Equal(t, 5, s.ProcessedThisRun)
	})
	signalAt(env, 4*time.Second, entries(8, 9))
	// Entry 3 finishes at 6 s; these signals reach the workflow in that workflow task.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalEntries, entries(9, 10, 11))
		env.SignalWorkflowSkippingWorkflowTask(contract.SignalPause, nil)
	}, 5500*time.Millisecond)
	env.ExecuteWorkflow(contract.WorkflowName, params(contract.Config{MaxConcurrent: 4, ContinueAsNewAfter: 3}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())

	spans := tl.spans()
	var ran []int64
	for _, s := range spans {
		ran = append(ran, s.off)
		assert.Falsef(t, s.end.IsZero(), "entry %d finished before ContinueAsNew", s.off)
	}
	assert.ElementsMatch(t, []int64{0, 1, 2, 3, 4, 5}, ran)
	assert.Equal(t, 6, f.count("Sv"))
	require.NotNil(t, p.State)
	assert.Equal(t, []int64{6, 7, 8, 9, 10, 11}, offsets(p.State.Queue), "queue carried in order, without the finished entries")
	assert.Equal(t, int64(12), p.State.NextOffset)
	assert.Equal(t, int64(6), p.State.Completed)
	assert.Equal(t, int64(2), p.State.Duplicates)
	assert.True(t, p.State.Paused, "the pause drained before ContinueAsNew is kept")

	// The next run does the rest, nothing twice.
	f2 := &fakes{}
	env2 := newEnv(t, f2)
	slow(env2, f2, time.Second)
	signalAt(env2, 0, entries(5, 6, 12))
	env2.RegisterDelayedCallback(func() { env2.SignalWorkflow(contract.SignalResume, nil) }, time.Second)
	queryAt(t, env2, 30*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(13), s.Completed)
		assert.Equal(t, int64(4), s.Duplicates)
		assert.Equal(t, 2, s.Run)
	})
	p.Config.ContinueAsNewAfter = 100
	runUntil(t, env2, p, time.Minute)
	for o := int64(0); o <= 12; o++ {
		want := 0
		if o >= 6 {
			want = 1
		}
		assert.Equalf(t, want, f2.count(fmt.Sprintf("R%d#", o)), "entry %d in the second run", o)
	}
}

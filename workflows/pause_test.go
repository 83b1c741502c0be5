package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/backbeat-temporal/backbeat/contract"
)

func TestPauseResume(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(0, 1, 2, 3, 4))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalPause, nil) }, 2500*time.Millisecond) // entry 1 in flight
	queryAt(t, env, 3*time.Second, func(s contract.Status) {
		assert.True(t, s.Paused)
		require.NotNil(t, s.Current, "the entry in flight finishes")
		assert.Equal(t, int64(1), s.Current.Offset)
	})
	queryAt(t, env, 19*time.Second, func(s contract.Status) {
		assert.True(t, s.Paused)
		assert.Nil(t, s.Current)
		assert.Equal(t, int64(2), s.Processed)
		assert.Equal(t, 3, s.Backlog)
		assert.Equal(t, int64(4), s.LastOffset)
		assert.Equal(t, completedSequence(0, 1), f.Events())
	})
	signalAt(env, 19*time.Second, entries(5)) // accepted while paused
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalResume, nil) }, 20*time.Second)
	queryAt(t, env, 40*time.Second, func(s contract.Status) {
		assert.False(t, s.Paused)
		assert.Equal(t, int64(6), s.Processed)
		assert.Equal(t, 0, s.Backlog)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	assert.Equal(t, completedSequence(span(0, 5)...), f.Events())
}

func TestWindowPauseLetsInFlightFinish(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	tl := newTimeline(env)
	signalAt(env, 0, entries(span(0, 9)...))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalPause, nil) }, 1500*time.Millisecond)
	queryAt(t, env, 1600*time.Millisecond, func(s contract.Status) {
		assert.True(t, s.Paused)
		assert.Equal(t, []int64{0, 1, 2, 3}, refOffsets(s.InFlight), "the entries in flight go on")
		for _, r := range s.InFlight {
			assert.Equal(t, contract.PhaseSetStatus, r.Phase)
		}
	})
	queryAt(t, env, 19*time.Second, func(s contract.Status) {
		assert.True(t, s.Paused)
		assert.Empty(t, s.InFlight)
		assert.Nil(t, s.Current)
		assert.Equal(t, int64(4), s.Processed)
		assert.Equal(t, 6, s.Backlog)
		assert.Equal(t, 8, f.count(""), "nothing started while paused")
	})
	var resumed time.Time
	env.RegisterDelayedCallback(func() {
		resumed = env.Now()
		env.SignalWorkflow(contract.SignalResume, nil)
	}, 20*time.Second)
	queryAt(t, env, 40*time.Second, func(s contract.Status) {
		assert.False(t, s.Paused)
		assert.Equal(t, int64(10), s.Completed)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 4}), time.Minute)
	spans := tl.spans()
	require.Len(t, spans, 10)
	for _, s := range spans[4:] {
		assert.Falsef(t, s.start.Before(resumed), "entry %d started before the resume", s.off)
	}
	assert.Equal(t, 4, maxConcurrency(spans))
}

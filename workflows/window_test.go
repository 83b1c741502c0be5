package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/temporal"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

func TestFIFOAcrossSignals(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(0, 1, 2))
	signalAt(env, 0, entries(3, 4))
	signalAt(env, 1500*time.Millisecond, entries(5, 6, 7)) // while entry 0 is being marked
	signalAt(env, 5*time.Second, entries(8))
	queryAt(t, env, 1500*time.Millisecond+time.Millisecond, func(s contract.Status) {
		assert.Equal(t, 8, s.Backlog, "entries 0..7 accepted, none finished")
		assert.Equal(t, int64(7), s.LastOffset)
		require.NotNil(t, s.Current)
		assert.Equal(t, int64(0), s.Current.Offset)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)

	assert.Equal(t, completedSequence(span(0, 8)...), f.Events())
	for i, in := range f.inputs {
		assert.Equal(t, entry(int64(i)), in.Entry, "the activity gets the entry as signalled")
	}
	assert.Len(t, f.Statuses(), 9)
}

func TestWindowOverlapsObjectsKeepsPerObjectOrder(t *testing.T) {
	keys := []string{"a", "b", "c", "a", "d", "e", "a", "b"} // key of offset o: keys[o%8]
	// Entry o's activities take 1, 2 or 3 s each: completions come out of offset order.
	dur := func(off int64) time.Duration { return time.Duration(1+off%3) * time.Second }
	run := func(t *testing.T, window int) ([]entrySpan, *fakes, int) {
		f := &fakes{}
		env := newEnv(t, f)
		slowBy(env, f, dur, time.Second, 2*time.Second, 3*time.Second)
		tl := newTimeline(env)
		var u upserts
		u.mock(env)
		signalAt(env, 0, windowEntries(keys, span(0, 9)...))
		signalAt(env, 3500*time.Millisecond, windowEntries(keys, span(10, 23)...))
		queryAt(t, env, 10*time.Minute, func(s contract.Status) {
			assert.Equal(t, int64(24), s.Completed)
			assert.Equal(t, 0, s.Backlog)
			assert.Empty(t, s.InFlight)
			assert.Nil(t, s.Current)
		})
		runUntil(t, env, params(contract.Config{MaxConcurrent: window}), time.Hour)
		u.mu.Lock()
		n := len(u.list)
		u.mu.Unlock()
		assert.Equal(t, int64(24), u.merged()[contract.SearchAttrProcessed])
		return tl.spans(), f, n
	}

	t.Run("window 4", func(t *testing.T) {
		spans, f, upserts := run(t, 4)
		require.Len(t, spans, 24, "every entry ran")
		assert.Equal(t, 4, maxConcurrency(spans), "objects overlap, at most MaxConcurrent at once")
		checkPerObjectOrder(t, spans)
		for o := int64(0); o < 24; o++ {
			assert.Equalf(t, 1, f.count(fmt.Sprintf("R%d#", o)), "entry %d replicated once", o)
			assert.Equalf(t, 1, f.count(fmt.Sprintf("Sv%d=COMPLETED#", o)), "entry %d marked once", o)
		}
		var done []string
		for _, st := range f.Statuses() {
			done = append(done, st.VersionID)
		}
		assert.NotEqual(t, completedVersions(span(0, 23)...), done, "completions out of offset order")
		assert.LessOrEqual(t, upserts, 24+3, "about one upsert per entry")
	})
	t.Run("window 1 is sequential", func(t *testing.T) {
		spans, f, _ := run(t, 1)
		require.Len(t, spans, 24)
		assert.Equal(t, 1, maxConcurrency(spans))
		var done []string
		for _, st := range f.Statuses() {
			done = append(done, st.VersionID)
		}
		assert.Equal(t, completedVersions(span(0, 23)...), done, "completions in offset order")
	})
}

func TestWindowFailingObjectBlocksOnlyItsLaterVersions(t *testing.T) {
	f := &fakes{replicate: func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error) {
		if in.Entry.Offset == 0 {
			return contract.ReplicateResult{}, temporal.NewApplicationError("target unreachable", "TargetUnavailable")
		}
		return contract.ReplicateResult{}, nil
	}}
	env := newEnv(t, f)
	beforeDurable(env)
	slow(env, f, time.Second)
	tl := newTimeline(env)
	keys := map[int64]string{0: "A", 1: "B", 2: "A", 3: "B", 4: "B", 5: "A", 6: "C"}
	var sig contract.EntriesSignal
	for o := range int64(7) {
		sig.Entries = append(sig.Entries, keyed(o, keys[o]))
	}
	signalAt(env, 0, sig)
	// Entry 0 (A): attempts 0–1 s, 2–3 s, 4.5–5.5 s, then FAILED 5.5–6.5 s.
	// B: 1 at 0–2 s, 3 at 2–4 s, 4 at 4–6 s; C: 6 at 0–2 s.
	queryAt(t, env, 6200*time.Millisecond, func(s contract.Status) {
		require.NotNil(t, s.Current)
		assert.Equal(t, int64(0), s.Current.Offset, "the oldest entry in flight")
		assert.Equal(t, contract.PhaseSetStatus, s.Current.Phase)
		assert.Equal(t, bbproto.StatusFailed, s.Current.Status)
		assert.Equal(t, []int64{0}, refOffsets(s.InFlight), "B and C done; A's later versions wait")
		assert.Equal(t, int64(4), s.Completed)
		assert.Equal(t, 3, s.Backlog)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 4, Retry: contract.RetryConfig{MaxRetries: 2}}), time.Minute)

	spans := tl.spans()
	require.Len(t, spans, 7)
	checkPerObjectOrder(t, spans)
	by := map[int64]entrySpan{}
	for _, s := range spans {
		by[s.off] = s
	}
	for _, o := range []int64{1, 3, 4, 6} {
		assert.Truef(t, by[o].end.Before(by[0].end), "entry %d (another object) finished while A's entry 0 was retried", o)
	}
	assert.False(t, by[2].start.Before(by[0].end), "A's entry 2 waits for entry 0's FAILED status")
	assert.Equal(t, 3, f.count("R0#"))
	assert.Equal(t, 1, f.count("Sv0=FAILED#1"))
	var st contract.SetStatusInput
	for _, s := range f.Statuses() {
		if s.VersionID == "v0" {
			st = s
		}
	}
	assert.Equal(t, "target unreachable (gave up after 3 attempts)", st.Reason)
	completed := 0
	for _, s := range f.Statuses() {
		if s.Status == bbproto.StatusCompleted {
			completed++
		}
	}
	assert.Equal(t, 6, completed, "the other entries COMPLETED")
}

func TestWindowNotReplicableEntries(t *testing.T) {
	// The entries of TestNotReplicableEntries, all at once: skipped ones finish without
	// taking a place, the others run concurrently.
	f := &fakes{}
	env := newEnv(t, f)
	completed := entry(0)
	completed.Record.Op = bbproto.OpStatus
	completed.Record.Replication.Status = bbproto.StatusCompleted
	noRepl := entry(1)
	noRepl.Record.Replication = nil
	deleted := entry(2)
	deleted.Record.Op = bbproto.OpDeleteVersion
	put := entry(3)
	signalAt(env, 0, contract.EntriesSignal{Entries: []contract.Entry{completed, noRepl, deleted, put, entry(4)}})
	queryAt(t, env, 30*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(5), s.Processed)
		assert.Equal(t, int64(2), s.Skipped)
		assert.Equal(t, int64(1), s.Failed)
		assert.Equal(t, int64(2), s.Completed)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 2}), time.Minute)
	assert.ElementsMatch(t, []string{"Sv2=FAILED#1", "R3#1", "Sv3=COMPLETED#1", "R4#1", "Sv4=COMPLETED#1"}, f.Events())
}

// TestWindowTimelineSeesLocalStatus guards the window tests: their timeline must cover
// the local status write, so an entry ends when its status is written.
func TestWindowTimelineSeesLocalStatus(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slowBy(env, f, func(int64) time.Duration { return time.Second }, time.Second)
	tl := newTimeline(env)
	signalAt(env, 0, entries(0))
	runUntil(t, env, params(contract.Config{}), time.Minute)
	sp := tl.spans()
	require.Len(t, sp, 1)
	assert.Equal(t, 2*time.Second, sp[0].end.Sub(sp[0].start), "replicate 1 s + status 1 s")
}

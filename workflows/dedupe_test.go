package workflows

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

func TestDedupeRedeliveredOffsets(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(0, 1, 2))
	signalAt(env, 100*time.Millisecond, entries(1, 2))    // same offsets, queued or in flight
	signalAt(env, 200*time.Millisecond, entries(0))       // lower, in flight
	signalAt(env, 300*time.Millisecond, entries(2, 3, 4)) // overlap
	signalAt(env, 400*time.Millisecond, entries(4, 5))
	signalAt(env, 500*time.Millisecond, entries(6, 5, 6, 7)) // disorder within one signal
	signalAt(env, 30*time.Second, entries(0, 1, 7))          // long after they were processed
	misrouted := entry(8)
	misrouted.Partition = 4
	signalAt(env, 31*time.Second, contract.EntriesSignal{Entries: []contract.Entry{misrouted, entry(8)}})
	queryAt(t, env, 50*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(2+1+1+1+2+3), s.Duplicates)
		assert.Equal(t, int64(1), s.Misrouted)
		assert.Equal(t, int64(9), s.Completed)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)

	assert.Equal(t, completedSequence(span(0, 8)...), f.Events(), "each offset exactly once, in order")
}

func TestDedupeCounters(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	signalAt(env, 0, entries(0, 1, 2))
	signalAt(env, time.Second, entries(1, 2, 3)) // 2 duplicates
	signalAt(env, 2*time.Second, entries(5, 4))  // 4 < 5: duplicate (not a gap filler)
	bad := entry(9)
	bad.Topic = "other"
	signalAt(env, 3*time.Second, contract.EntriesSignal{Entries: []contract.Entry{bad}})
	queryAt(t, env, 10*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(3), s.Duplicates)
		assert.Equal(t, int64(1), s.Misrouted)
		assert.Contains(t, s.LastError, "other/3")
		assert.Equal(t, int64(5), s.LastOffset)
		assert.Equal(t, int64(5), s.Processed)
		assert.Equal(t, int64(5), s.Completed)
		assert.Equal(t, 0, s.Backlog)
		assert.Equal(t, 4, s.SignalsThisRun)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	assert.Equal(t, completedSequence(0, 1, 2, 3, 5), f.Events())
}

// Kafka offsets restart from 0 (a recreated topic): entries are deduped by journal
// position, so every new entry is replicated and no old one twice; entries without a
// journal position keep the offset rule.
func TestDedupeByJournalPositionAcrossOffsetReset(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, signalOf(journaled(0, 1, "a"), journaled(1, 2, "b"), journaled(2, 3, "c"), journaled(3, 4, "a"), journaled(4, 5, "d")))
	signalAt(env, 100*time.Millisecond, signalOf(journaled(2, 3, "c"), journaled(3, 4, "a"), journaled(4, 5, "d"))) // redelivered
	// The topic is recreated: offsets restart from 0, the journal goes on.
	signalAt(env, 30*time.Second, signalOf(journaled(0, 6, "a"), journaled(1, 7, "e"), journaled(2, 8, "b")))
	old := keyed(5, "f") // no journal position: the offset rule (next offset 3)
	stale := keyed(1, "g")
	signalAt(env, 31*time.Second, signalOf(journaled(3, 4, "a"), stale, old)) // seq 4 again: duplicate; offset 1 < 3: duplicate
	queryAt(t, env, 50*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(3+2), s.Duplicates)
		assert.Equal(t, int64(9), s.Completed)
		assert.Equal(t, 0, s.Backlog)
		assert.Equal(t, int64(5), s.LastOffset, "the offset of the last accepted entry")
	})
	runUntil(t, env, params(contract.Config{}), time.Minute)

	want := map[string][]string{"v5": {string(bbproto.StatusCompleted)}}
	for seq := 1; seq <= 8; seq++ {
		want[fmt.Sprintf("s%d", seq)] = []string{string(bbproto.StatusCompleted)}
	}
	assert.Equal(t, want, statusesByVersion(f), "every version replicated and marked once")
}

// After an offset reset, an object's new version (low offset) waits for its old one
// still in flight (high offset): the queue is in arrival order, not offset order.
func TestJournalDedupeKeepsObjectOrderAcrossOffsetReset(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, signalOf(journaled(9, 1, "a")))
	signalAt(env, 100*time.Millisecond, signalOf(journaled(0, 2, "a"), journaled(1, 3, "b")))
	queryAt(t, env, 500*time.Millisecond, func(s contract.Status) {
		assert.Equal(t, []int64{9, 1}, refOffsets(s.InFlight), "a@s1 and b in flight, a@s2 waits")
	})
	runUntil(t, env, params(contract.Config{}), time.Minute)

	var order []string
	for _, s := range f.Statuses() {
		if s.Key == "a" {
			order = append(order, s.VersionID)
		}
	}
	assert.Equal(t, []string{"s1", "s2"}, order, "versions of one object in journal order")
	assert.Len(t, f.Statuses(), 3)
}

// A run whose history began before the journal dedupe (DefaultVersion of
// journalDedupeChange) keeps the offset rule, journal position or not.
func TestJournalDedupeVersionGuard(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	env.OnGetVersion(journalDedupeChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	signalAt(env, 0, signalOf(journaled(0, 1, "a"), journaled(1, 2, "b"), journaled(2, 3, "c")))
	signalAt(env, 10*time.Second, signalOf(journaled(0, 4, "a"), journaled(1, 5, "e")))
	queryAt(t, env, 20*time.Second, func(s contract.Status) {
		assert.Equal(t, int64(2), s.Duplicates, "dropped by offset, as before")
		assert.Equal(t, int64(3), s.Completed)
	})
	runUntil(t, env, params(contract.Config{}), 30*time.Second)
}

// The highest accepted seq of each journal is carried across ContinueAsNew.
func TestJournalSeqsCarriedAcrossContinueAsNew(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	signalAt(env, 0, signalOf(journaled(0, 1, "a"), journaled(1, 2, "b")))
	env.ExecuteWorkflow(contract.WorkflowName, params(contract.Config{ContinueAsNewAfter: 2}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	require.NotNil(t, p.State)
	assert.Equal(t, map[string]uint64{"j1": 2}, p.State.JournalSeqs)
}

package workflows

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

// batchFakes is a fake ActivityReplicateBatch (and the single activities, for what
// runs alone). outcome decides each entry's outcome (nil: done, status written).
type batchFakes struct {
	fakes
	bmu     sync.Mutex
	batches [][]int64 // offsets of each batch, in start order
	outcome func(e contract.Entry, call int) contract.EntryOutcome
	calls   map[int64]int
}

func (f *batchFakes) batchActivity(ctx context.Context, in contract.ReplicateBatchInput) (contract.ReplicateBatchResult, error) {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	if f.calls == nil {
		f.calls = map[int64]int{}
	}
	var offs []int64
	var res contract.ReplicateBatchResult
	for _, e := range in.Entries {
		offs = append(offs, e.Offset)
		f.calls[e.Offset]++
		o := contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted, StatusWritten: true}
		if f.outcome != nil {
			o = f.outcome(e, f.calls[e.Offset])
		}
		if o.StatusWritten {
			f.mu.Lock()
			f.status = append(f.status, contract.SetStatusInput{Bucket: e.Record.Bucket, Key: e.Record.Key,
				VersionID: e.Record.VersionID, Status: o.Status, Reason: o.Reason})
			f.mu.Unlock()
		}
		res.Outcomes = append(res.Outcomes, o)
	}
	f.batches = append(f.batches, offs)
	return res, nil
}

func (f *batchFakes) Batches() [][]int64 {
	f.bmu.Lock()
	defer f.bmu.Unlock()
	return append([][]int64(nil), f.batches...)
}

// newBatchEnv is newEnv for a run begun after batches.
func newBatchEnv(t *testing.T, f *batchFakes) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	env := newBaseEnv(t, &f.fakes)
	env.RegisterActivityWithOptions(f.batchActivity, activity.RegisterOptions{Name: contract.ActivityReplicateBatch})
	return env
}

func TestBatchBounds(t *testing.T) {
	f := &batchFakes{}
	env := newBatchEnv(t, f)
	sig := entries(span(0, 9)...)
	sig.Entries[5].Record.Size = 3300 // ends its batch: 6 would pass the byte budget
	big := entry(10)
	big.Record.Size = 1 << 30 // large: alone, by ActivityReplicate
	sig.Entries = append(sig.Entries, big)
	signalAt(env, 0, sig)
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1, BatchMaxEntries: 4, BatchMaxBytes: 3500, LargeObjectSize: 1 << 20}), time.Minute)

	assert.Equal(t, [][]int64{{0, 1, 2, 3}, {4, 5}, {6, 7, 8, 9}}, f.Batches(), "at most 4 entries and 3500 bytes")
	assert.Equal(t, []string{"R10#1", "Sv10=COMPLETED#1"}, f.Events(), "the large object goes alone")
	assert.Len(t, f.Statuses(), 11)
}

func TestBatchFIFOPerObject(t *testing.T) {
	f := &batchFakes{}
	env := newBatchEnv(t, f)
	signalAt(env, 0, windowEntries([]string{"A", "B", "A", "C", "A", "B"}, 0, 1, 2, 3, 4, 5))
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	assert.Equal(t, [][]int64{{0, 1, 3}, {2, 5}, {4}}, f.Batches(), "one version of an object per batch, in order")
	var order []string
	for _, s := range f.Statuses() {
		order = append(order, s.VersionID)
	}
	assert.Equal(t, []string{"v0", "v1", "v3", "v2", "v5", "v4"}, order)
}

func TestBatchOutcomes(t *testing.T) {
	f := &batchFakes{outcome: func(e contract.Entry, call int) contract.EntryOutcome {
		done := contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted, StatusWritten: true, Bytes: 7}
		switch e.Offset {
		case 1:
			return contract.EntryOutcome{Outcome: contract.OutcomeFailed, Kind: contract.KindAccessDenied, Error: "denied",
				Status: bbproto.StatusFailed, Reason: "AccessDenied: denied (not retried)", StatusWritten: true}
		case 2:
			if call < 3 {
				return contract.EntryOutcome{Outcome: contract.OutcomeRetry, Error: "target down"}
			}
		case 3:
			return contract.EntryOutcome{Outcome: contract.OutcomeGone, Kind: contract.KindSourceGone, Error: "gone"}
		case 4:
			return contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted, StatusError: "source down"}
		}
		return done
	}}
	env := newBatchEnv(t, f)
	signalAt(env, 0, entries(0, 1, 2, 3, 4))
	queryAt(t, env, 500*time.Millisecond, func(s contract.Status) {
		assert.Equal(t, []int64{2}, offsetsOf(s.Waiting), "the retryable entry waits alone")
	})
	runUntil(t, env, params(contract.Config{BreakerThreshold: -1}), time.Minute)

	assert.Equal(t, [][]int64{{0, 1, 2, 3, 4}, {2}, {2}}, f.Batches(), "the retried entry joins later batches; done ones are not redone")
	assert.Equal(t, []string{"Sv4=COMPLETED#1"}, f.Events(), "a status the batch could not write is written alone")
	assert.Equal(t, map[string][]string{"v0": {"COMPLETED"}, "v1": {"FAILED"}, "v2": {"COMPLETED"}, "v4": {"COMPLETED"}}, statusesByVersion(&f.fakes))
}

func TestBatchCounters(t *testing.T) {
	f := &batchFakes{outcome: func(e contract.Entry, call int) contract.EntryOutcome {
		switch e.Offset {
		case 1:
			return contract.EntryOutcome{Outcome: contract.OutcomeFailed, Status: bbproto.StatusFailed, Reason: "x", StatusWritten: true}
		case 2:
			return contract.EntryOutcome{Outcome: contract.OutcomeGone, Error: "gone"}
		}
		return contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted, StatusWritten: true, Bytes: 10}
	}}
	env := newBatchEnv(t, f)
	signalAt(env, 0, entries(0, 1, 2, 3))
	var last contract.Status
	env.RegisterDelayedCallback(func() { last = queryStatus(t, env) }, 30*time.Second)
	runUntil(t, env, params(contract.Config{}), time.Minute)
	assert.Equal(t, contract.Counters{Processed: 4, Completed: 2, Failed: 1, Skipped: 1, Bytes: 20}, last.Counters)
	assert.Zero(t, last.Backlog)
}

func TestBatchFailedAsAWholeRetriesEntries(t *testing.T) {
	f := &batchFakes{}
	env := newBatchEnv(t, f)
	failing := true
	env.OnActivity(contract.ActivityReplicateBatch, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in contract.ReplicateBatchInput) (contract.ReplicateBatchResult, error) {
			if failing {
				return contract.ReplicateBatchResult{}, unavailable("worker")
			}
			return f.batchActivity(ctx, in)
		})
	env.RegisterDelayedCallback(func() { failing = false }, 20*time.Second)
	signalAt(env, 0, entries(0, 1))
	runUntil(t, env, params(contract.Config{BreakerThreshold: -1}), 5*time.Minute)
	assert.Equal(t, map[string][]string{"v0": {"COMPLETED"}, "v1": {"COMPLETED"}}, statusesByVersion(&f.fakes))
}

func TestDedupeHeldVersions(t *testing.T) {
	f := &batchFakes{outcome: func(e contract.Entry, call int) contract.EntryOutcome {
		if e.Record.Key == "A" && call < 4 {
			return contract.EntryOutcome{Outcome: contract.OutcomeRetry, Error: "target down"}
		}
		return contract.EntryOutcome{Outcome: contract.OutcomeDone, Status: bbproto.StatusCompleted, StatusWritten: true}
	}}
	env := newBatchEnv(t, f)
	held := journaled(0, 1, "A")
	redrive := journaled(1, 2, "A") // the sweeper's re-drive: same version, new seq, op status
	redrive.Record.VersionID = held.Record.VersionID
	redrive.Record.Op = bbproto.OpStatus
	other := journaled(2, 3, "B")
	signalAt(env, 0, signalOf(held))
	signalAt(env, 3*time.Second, signalOf(redrive, other)) // A waits for its retry at 6 s
	var mid contract.Status
	env.RegisterDelayedCallback(func() { mid = queryStatus(t, env) }, 3500*time.Millisecond)
	runUntil(t, env, params(contract.Config{BreakerThreshold: -1}), 5*time.Minute)

	assert.Equal(t, int64(1), mid.Duplicates, "the re-drive of a version waiting to retry is dropped")
	assert.Equal(t, int64(2), mid.LastOffset, "the dropped entry counts as handled")
	assert.Equal(t, map[string][]string{"s1": {"COMPLETED"}, "s3": {"COMPLETED"}}, statusesByVersion(&f.fakes))
	for _, b := range f.Batches() {
		assert.NotContains(t, b, int64(1))
	}
}

func TestDedupeHeldNotInFlightNorMetadataOverData(t *testing.T) {
	f := &batchFakes{}
	env := newBatchEnv(t, f)
	env.OnActivity(contract.ActivityReplicateBatch, mock.Anything, mock.Anything).After(10 * time.Second).Return(f.batchActivity)
	first := journaled(0, 1, "A") // in flight when its re-drive comes
	again := journaled(1, 2, "A") // same version: not absorbed by an entry in flight
	again.Record.VersionID = first.Record.VersionID
	meta := journaled(2, 3, "A") // metadata change of that version: queued behind again
	meta.Record.VersionID = first.Record.VersionID
	meta.Record.Op = bbproto.OpMetadata
	meta2 := journaled(3, 4, "A") // covered by the held put
	meta2.Record.VersionID = first.Record.VersionID
	meta2.Record.Op = bbproto.OpMetadata
	signalAt(env, 0, signalOf(first))
	signalAt(env, time.Second, signalOf(again, meta, meta2))
	var mid contract.Status
	env.RegisterDelayedCallback(func() { mid = queryStatus(t, env) }, 2*time.Second)
	runUntil(t, env, params(contract.Config{}), 5*time.Minute)
	assert.Equal(t, int64(2), mid.Duplicates, "meta and meta2 are covered by the held re-drive")
	assert.Equal(t, [][]int64{{0}, {1}}, f.Batches())
}

func TestNoDedupeHeldOnOldRuns(t *testing.T) {
	f := &batchFakes{}
	env := newBatchEnv(t, f)
	env.OnGetVersion(dedupeHeldChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	env.OnActivity(contract.ActivityReplicateBatch, mock.Anything, mock.Anything).After(10 * time.Second).Return(f.batchActivity)
	a := journaled(0, 1, "A")
	b := journaled(1, 2, "B")
	b2 := journaled(2, 3, "B")
	b2.Record.VersionID = b.Record.VersionID
	signalAt(env, 0, signalOf(a, b, b2))
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), 5*time.Minute)
	assert.Equal(t, [][]int64{{0, 1}, {2}}, f.Batches())
}

func TestBatchSummary(t *testing.T) {
	b := &batchRun{members: []*inflight{{ref: contract.EntryRef{Offset: 1, Bucket: "b", Key: "k", VersionID: "v"}},
		{ref: contract.EntryRef{Offset: 2, Bucket: "b", Key: "k2", VersionID: "v2"}}}}
	s := batchSummary(b)
	assert.True(t, strings.HasPrefix(s, "batch of 2: b/k@v (offset 1)"), s)
	require.Contains(t, s, fmt.Sprintf("(offset %d)", 2))
}

// TestPartialBatchesGrowUnderLoad: with Config.PartialBatches 1, while a partial batch
// runs the entries that arrive one by one wait and go together when it finishes, unless
// they fill a batch; with no bound each arrival starts its own batch.
func TestPartialBatchesGrowUnderLoad(t *testing.T) {
	run := func(t *testing.T, partial int) [][]int64 {
		f := &batchFakes{}
		env := newBatchEnv(t, f)
		// The first batch takes 10 s of workflow time; the others answer at once.
		env.OnActivity(contract.ActivityReplicateBatch, mock.Anything, mock.Anything).Return(f.batchActivity).After(10 * time.Second).Once()
		env.OnActivity(contract.ActivityReplicateBatch, mock.Anything, mock.Anything).Return(f.batchActivity)
		signalAt(env, 0, entries(0))
		for i := int64(1); i <= 3; i++ {
			signalAt(env, time.Duration(i)*time.Second, entries(i)) // one by one while batch {0} runs
		}
		signalAt(env, 4*time.Second, entries(span(4, 7)...)) // a full batch: starts at once
		runUntil(t, env, params(contract.Config{MaxConcurrent: 8, BatchMaxEntries: 4, PartialBatches: partial}), time.Minute)
		assert.Len(t, f.Statuses(), 8, "every entry replicated")
		return f.Batches()
	}
	t.Run("bounded", func(t *testing.T) {
		assert.Equal(t, [][]int64{{1, 2, 3, 4}, {0}, {5, 6, 7}}, run(t, 1),
			"{0} runs; 1, 2, 3 wait for it until 4-7 arrive and fill a batch with 4, in queue order; 5-7 wait for {0}")
	})
	t.Run("unbounded", func(t *testing.T) {
		assert.Equal(t, [][]int64{{1}, {2}, {3}, {4, 5, 6, 7}, {0}}, run(t, -1), "each arrival starts its own batch")
	})
}

package workflows

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdkpb "go.temporal.io/api/sdk/v1"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

func TestStatusAndDetails(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(10, 11, 12))
	queryAt(t, env, 500*time.Millisecond, func(s contract.Status) {
		assert.Equal(t, testTopic, s.Topic)
		assert.Equal(t, testPartition, s.Partition)
		assert.Equal(t, 3, s.Backlog)
		assert.Equal(t, 3*entrySize(entry(10)), s.BacklogBytes)
		require.NotNil(t, s.Current)
		assert.Equal(t, contract.EntryRef{Offset: 10, Op: bbproto.OpPut, Bucket: "source-bucket", Key: "key-10", VersionID: "v10",
			Phase: contract.PhaseReplicate, Since: s.Current.Since}, *s.Current)
		assert.Equal(t, int64(12), s.LastOffset)
		assert.Equal(t, 1, s.Run)
		assert.Equal(t, 1, s.SignalsThisRun)
	})
	queryAt(t, env, 1500*time.Millisecond, func(s contract.Status) {
		require.NotNil(t, s.Current)
		assert.Equal(t, contract.PhaseSetStatus, s.Current.Phase)
		assert.Equal(t, bbproto.StatusCompleted, s.Current.Status)
		assert.Equal(t, int64(110), s.Bytes)
	})
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow("__temporal_workflow_metadata")
		require.NoError(t, err)
		var md sdkpb.WorkflowMetadata
		require.NoError(t, v.Get(&md))
		assert.Regexp(t, "^partition 3 of backbeat-replication · backlog 2 · processed 1 · failed 0 · now: `source-bucket/key-11@v11` \\(replicate since .*Z\\)$",
			md.GetCurrentDetails())
	}, 2500*time.Millisecond)
	queryAt(t, env, 10*time.Second, func(s contract.Status) {
		assert.Nil(t, s.Current)
		assert.Equal(t, 0, s.Backlog)
		assert.Equal(t, 0, s.BacklogBytes)
		assert.Equal(t, int64(3), s.Processed)
		assert.Equal(t, 3, s.ProcessedThisRun)
		assert.Equal(t, "", s.LastError)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
}

func TestSearchAttributes(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	var u upserts
	u.mock(env)
	signalAt(env, 0, entries(0, 1, 2))
	for i := range 5 { // signals while entry 0 is in flight: no upsert each
		signalAt(env, time.Duration(100+i*100)*time.Millisecond, entries(int64(3+i)))
	}
	env.RegisterDelayedCallback(func() {
		u.mu.Lock()
		defer u.mu.Unlock()
		require.NotEmpty(t, u.list)
		first, _ := u.list[0].GetInt64(partitionKey)
		assert.Equal(t, int64(testPartition), first)
		topic, _ := u.list[0].GetKeyword(topicKey)
		assert.Equal(t, testTopic, topic)
		backlog, _ := u.list[len(u.list)-1].GetInt64(backlogKey)
		assert.Equal(t, int64(3), backlog, "backlog upserted when entry 0 started, not per signal")
		assert.LessOrEqual(t, len(u.list), 2)
	}, 900*time.Millisecond)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalPause, nil) }, 30*time.Second)
	env.RegisterDelayedCallback(func() {
		m := u.merged()
		assert.Equal(t, map[string]any{contract.SearchAttrPartition: int64(3), contract.SearchAttrTopic: testTopic,
			contract.SearchAttrBacklog: int64(0), contract.SearchAttrProcessed: int64(8), contract.SearchAttrPaused: true}, m)
	}, 31*time.Second)
	runUntil(t, env, params(contract.Config{MaxConcurrent: 1}), time.Minute)
	u.mu.Lock()
	n := len(u.list)
	u.mu.Unlock()
	assert.LessOrEqual(t, n, 8+3, "about one upsert per entry")
}

func TestSearchAttributesDisabled(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	var u upserts
	u.mock(env)
	signalAt(env, 0, entries(0, 1))
	runUntil(t, env, params(contract.Config{DisableSearchAttributes: true}), time.Minute)
	assert.Len(t, f.Statuses(), 2)
	assert.Empty(t, u.list)
}

func TestWindowStatusAndDetails(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slowBy(env, f, func(off int64) time.Duration { return time.Duration(1+off%2) * time.Second }, time.Second, 2*time.Second)
	signalAt(env, 0, entries(span(0, 6)...))
	queryAt(t, env, 1500*time.Millisecond, func(s contract.Status) {
		assert.Equal(t, 7, s.Backlog)
		assert.Equal(t, []int64{0, 1, 2, 3, 4}, refOffsets(s.InFlight))
		require.NotNil(t, s.Current)
		assert.Equal(t, s.InFlight[0], *s.Current, "Current is the oldest in flight")
		phases := map[int64]string{}
		for _, r := range s.InFlight {
			phases[r.Offset] = r.Phase + " " + string(r.Status)
		}
		assert.Equal(t, map[int64]string{0: "set-status COMPLETED", 1: "replicate ", 2: "set-status COMPLETED",
			3: "replicate ", 4: "set-status COMPLETED"}, phases)
	})
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow("__temporal_workflow_metadata")
		require.NoError(t, err)
		var md sdkpb.WorkflowMetadata
		require.NoError(t, v.Get(&md))
		assert.Regexp(t, "^partition 3 of backbeat-replication · backlog 7 · processed 0 · failed 0 · now: 5 in flight: "+
			"`source-bucket/key-0@v0` \\(set-status COMPLETED since [^)]*Z\\), `source-bucket/key-1@v1` \\(replicate since [^)]*Z\\), "+
			"`source-bucket/key-2@v2` \\(set-status COMPLETED since [^)]*Z\\), \\+2 more$", md.GetCurrentDetails())
	}, 1500*time.Millisecond)
	queryAt(t, env, 2500*time.Millisecond, func(s contract.Status) {
		assert.Equal(t, []int64{1, 3, 5, 6}, refOffsets(s.InFlight), "0, 2, 4 done; 5 and 6 took their places")
		assert.Equal(t, int64(1), s.Current.Offset)
		assert.Equal(t, int64(3), s.Completed)
	})
	runUntil(t, env, params(contract.Config{MaxConcurrent: 5}), time.Minute)
}

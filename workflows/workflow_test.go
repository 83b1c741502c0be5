package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	sdkpb "go.temporal.io/api/sdk/v1"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/journal/record"
)

const (
	testTopic     = "backbeat-replication"
	testPartition = int32(3)
)

// fakes are the activities, registered by name as the worker registers the real ones.
// They record every attempt in call order.
type fakes struct {
	mu     sync.Mutex
	events []string // "R<offset>#<attempt>", "S<offset>=<STATUS>#<attempt>"
	inputs []ReplicateInput
	status []SetStatusInput // successful status writes
	// replicate and setStatus decide an attempt's outcome; nil succeeds.
	replicate func(in ReplicateInput, attempt int32) (ReplicateResult, error)
	setStatus func(in SetStatusInput, attempt int32) error
}

func (f *fakes) replicateActivity(ctx context.Context, in ReplicateInput) (ReplicateResult, error) {
	attempt := activity.GetInfo(ctx).Attempt
	f.mu.Lock()
	f.events = append(f.events, fmt.Sprintf("R%d#%d", in.Entry.Offset, attempt))
	f.inputs = append(f.inputs, in)
	fn := f.replicate
	f.mu.Unlock()
	if fn != nil {
		return fn(in, attempt)
	}
	return ReplicateResult{Bytes: in.Entry.Record.Size}, nil
}

func (f *fakes) setStatusActivity(ctx context.Context, in SetStatusInput) error {
	attempt := activity.GetInfo(ctx).Attempt
	f.mu.Lock()
	f.events = append(f.events, fmt.Sprintf("S%s=%s#%d", in.VersionID, in.Status, attempt))
	fn := f.setStatus
	f.mu.Unlock()
	var err error
	if fn != nil {
		err = fn(in, attempt)
	}
	if err == nil {
		f.mu.Lock()
		f.status = append(f.status, in)
		f.mu.Unlock()
	}
	return err
}

func (f *fakes) Events() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.events...)
}

func (f *fakes) Statuses() []SetStatusInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SetStatusInput(nil), f.status...)
}

func (f *fakes) count(prefix string) int {
	n := 0
	for _, e := range f.Events() {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

type testLogWriter struct{ t *testing.T }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newEnv returns a test environment with the workflow and the fakes registered by name.
// Activities take no workflow time unless slow is called.
func newEnv(t *testing.T, f *fakes) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(PartitionWorkflow, workflow.RegisterOptions{Name: WorkflowName})
	env.RegisterActivityWithOptions(f.replicateActivity, activity.RegisterOptions{Name: ActivityReplicate})
	env.RegisterActivityWithOptions(f.setStatusActivity, activity.RegisterOptions{Name: ActivitySetStatus})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: WorkflowID(testTopic, testPartition), TaskQueue: TaskQueue})
	return env
}

// slow makes every attempt of both activities take d of workflow time.
func slow(env *testsuite.TestWorkflowEnvironment, f *fakes, d time.Duration) {
	env.OnActivity(ActivityReplicate, mock.Anything, mock.Anything).After(d).Return(f.replicateActivity)
	env.OnActivity(ActivitySetStatus, mock.Anything, mock.Anything).After(d).Return(f.setStatusActivity)
}

func entry(off int64) Entry {
	return Entry{Topic: testTopic, Partition: testPartition, Offset: off, Record: record.Record{
		Seq: uint64(1000 + off), Op: record.OpPut, Bucket: "source-bucket", Key: fmt.Sprintf("key-%d", off),
		VersionID: fmt.Sprintf("v%d", off), Size: 100 + off, ETag: "etag",
		Replication: &record.Replication{Status: record.StatusPending, Role: "arn:aws:iam::root:role/r",
			Destination: "arn:aws:s3:::target-bucket", Content: []string{"DATA", "METADATA"}},
	}}
}

func entries(offsets ...int64) EntriesSignal {
	var s EntriesSignal
	for _, o := range offsets {
		s.Entries = append(s.Entries, entry(o))
	}
	return s
}

func span(from, to int64) []int64 {
	var o []int64
	for i := from; i <= to; i++ {
		o = append(o, i)
	}
	return o
}

func signalAt(env *testsuite.TestWorkflowEnvironment, d time.Duration, sig EntriesSignal) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalEntries, sig) }, d)
}

func queryAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration, check func(Status)) {
	t.Helper()
	env.RegisterDelayedCallback(func() {
		check(queryStatus(t, env))
	}, d)
}

func queryStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) Status {
	t.Helper()
	v, err := env.QueryWorkflow(QueryStatus)
	require.NoError(t, err)
	var s Status
	require.NoError(t, v.Get(&s))
	return s
}

// runUntil runs the workflow with p and cancels it at d; it must end cancelled.
func runUntil(t *testing.T, env *testsuite.TestWorkflowEnvironment, p Params, d time.Duration) {
	t.Helper()
	var last Status
	env.RegisterDelayedCallback(func() {
		last = queryStatus(t, env)
		env.CancelWorkflow()
	}, d)
	env.ExecuteWorkflow(WorkflowName, p)
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	var canceled *temporal.CanceledError
	require.Truef(t, errors.As(err, &canceled), "workflow should end cancelled, got %v (status %+v)", err, last)
}

func params(cfg Config) Params {
	return Params{Topic: testTopic, Partition: testPartition, Config: cfg}
}

// completedSequence is the event list of entries replicated and marked COMPLETED at the
// first attempt, one after the other.
func completedSequence(offsets ...int64) []string {
	var ev []string
	for _, o := range offsets {
		ev = append(ev, fmt.Sprintf("R%d#1", o), fmt.Sprintf("Sv%d=COMPLETED#1", o))
	}
	return ev
}

func TestFIFOAcrossSignals(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(0, 1, 2))
	signalAt(env, 0, entries(3, 4))
	signalAt(env, 1500*time.Millisecond, entries(5, 6, 7)) // while entry 0 is being marked
	signalAt(env, 5*time.Second, entries(8))
	queryAt(t, env, 1500*time.Millisecond+time.Millisecond, func(s Status) {
		assert.Equal(t, 8, s.Backlog, "entries 0..7 accepted, none finished")
		assert.Equal(t, int64(7), s.LastOffset)
		require.NotNil(t, s.Current)
		assert.Equal(t, int64(0), s.Current.Offset)
	})
	runUntil(t, env, params(Config{}), time.Minute)

	assert.Equal(t, completedSequence(span(0, 8)...), f.Events())
	for i, in := range f.inputs {
		assert.Equal(t, entry(int64(i)), in.Entry, "the activity gets the entry as signalled")
	}
	assert.Len(t, f.Statuses(), 9)
}

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
	signalAt(env, 31*time.Second, EntriesSignal{Entries: []Entry{misrouted, entry(8)}})
	queryAt(t, env, 50*time.Second, func(s Status) {
		assert.Equal(t, int64(2+1+1+1+2+3), s.Duplicates)
		assert.Equal(t, int64(1), s.Misrouted)
		assert.Equal(t, int64(9), s.Completed)
	})
	runUntil(t, env, params(Config{}), time.Minute)

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
	signalAt(env, 3*time.Second, EntriesSignal{Entries: []Entry{bad}})
	queryAt(t, env, 10*time.Second, func(s Status) {
		assert.Equal(t, int64(3), s.Duplicates)
		assert.Equal(t, int64(1), s.Misrouted)
		assert.Contains(t, s.LastError, "other/3")
		assert.Equal(t, int64(5), s.LastOffset)
		assert.Equal(t, int64(5), s.Processed)
		assert.Equal(t, int64(5), s.Completed)
		assert.Equal(t, 0, s.Backlog)
		assert.Equal(t, 4, s.SignalsThisRun)
	})
	runUntil(t, env, params(Config{}), time.Minute)
	assert.Equal(t, completedSequence(0, 1, 2, 3, 5), f.Events())
}

func TestRetriesThenFailedThenNext(t *testing.T) {
	f := &fakes{replicate: func(in ReplicateInput, attempt int32) (ReplicateResult, error) {
		if in.Entry.Offset == 1 {
			return ReplicateResult{}, temporal.NewApplicationError(fmt.Sprintf("target unreachable (attempt %d)", attempt), "TargetUnavailable")
		}
		return ReplicateResult{Bytes: 7}, nil
	}}
	env := newEnv(t, f)
	signalAt(env, 0, entries(0, 1, 2))
	// Backoff 1 s ×1.5: attempts of entry 1 start at 0, 1, 2.5, 4.75, 8.125, 13.19 s.
	queryAt(t, env, 5*time.Second, func(s Status) {
		require.NotNil(t, s.Current)
		assert.Equal(t, int64(1), s.Current.Offset)
		assert.Equal(t, PhaseReplicate, s.Current.Phase)
		assert.Equal(t, 2, s.Backlog)
		assert.Equal(t, int64(1), s.Completed)
		assert.Contains(t, env.Now().Sub(s.Current.Since).String(), "5s")
	})
	queryAt(t, env, 20*time.Second, func(s Status) {
		assert.Equal(t, int64(3), s.Processed)
		assert.Equal(t, int64(2), s.Completed)
		assert.Equal(t, int64(1), s.Failed)
		assert.Equal(t, int64(14), s.Bytes)
		assert.Contains(t, s.LastError, "offset 1 source-bucket/key-1@v1: target unreachable (attempt 6) (gave up after 6 attempts)")
	})
	runUntil(t, env, params(Config{}), time.Minute)

	want := completedSequence(0)
	for a := 1; a <= 6; a++ {
		want = append(want, fmt.Sprintf("R1#%d", a))
	}
	want = append(want, "Sv1=FAILED#1")
	want = append(want, completedSequence(2)...)
	assert.Equal(t, want, f.Events())
	st := f.Statuses()
	require.Len(t, st, 3)
	assert.Equal(t, SetStatusInput{Bucket: "source-bucket", Key: "key-1", VersionID: "v1", Status: record.StatusFailed,
		Reason: "target unreachable (attempt 6) (gave up after 6 attempts)"}, st[1])
}

func TestConfiguredRetries(t *testing.T) {
	f := &fakes{replicate: func(in ReplicateInput, attempt int32) (ReplicateResult, error) {
		return ReplicateResult{}, errors.New("boom")
	}}
	env := newEnv(t, f)
	signalAt(env, 0, entries(0))
	runUntil(t, env, params(Config{Retry: RetryConfig{MaxRetries: 2}}), time.Minute)
	assert.Equal(t, 3, f.count("R0#"), "MaxRetries 2 → 3 attempts")
	require.Len(t, f.Statuses(), 1)
	assert.Equal(t, "boom (gave up after 3 attempts)", f.Statuses()[0].Reason)

	f = &fakes{replicate: f.replicate}
	env = newEnv(t, f)
	signalAt(env, 0, entries(0))
	runUntil(t, env, params(Config{Retry: RetryConfig{MaxRetries: NoRetries}}), time.Minute)
	assert.Equal(t, 1, f.count("R0#"), "NoRetries → 1 attempt")
}

func TestNonRetryableFailsAtOnce(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		reason string
	}{
		{"access denied", temporal.NewApplicationError("target refused PutObject", ErrTypeAccessDenied),
			"AccessDenied: target refused PutObject (not retried)"},
		{"invalid config", temporal.NewApplicationError("no rule matches", ErrTypeInvalidConfig),
			"InvalidConfig: no rule matches (not retried)"},
		{"no such bucket", temporal.NewApplicationError("target-bucket does not exist", ErrTypeNoSuchBucket),
			"NoSuchBucket: target-bucket does not exist (not retried)"},
		{"generic", temporal.NewApplicationError("cannot", ErrTypeNonRetryable), "NonRetryable: cannot (not retried)"},
		{"flagged", temporal.NewNonRetryableApplicationError("flagged by the activity", "Other", nil),
			"flagged by the activity (not retried)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakes{replicate: func(in ReplicateInput, attempt int32) (ReplicateResult, error) {
				if in.Entry.Offset == 0 {
					return ReplicateResult{}, c.err
				}
				return ReplicateResult{}, nil
			}}
			env := newEnv(t, f)
			signalAt(env, 0, entries(0, 1))
			runUntil(t, env, params(Config{}), time.Minute)
			assert.Equal(t, []string{"R0#1", "Sv0=FAILED#1", "R1#1", "Sv1=COMPLETED#1"}, f.Events())
			assert.Equal(t, c.reason, f.Statuses()[0].Reason)
		})
	}
}

func TestSourceVersionGoneIsSkipped(t *testing.T) {
	f := &fakes{replicate: func(in ReplicateInput, attempt int32) (ReplicateResult, error) {
		if in.Entry.Offset == 0 {
			return ReplicateResult{}, temporal.NewApplicationError("source version v0 is gone", ErrTypeNoSuchVersion)
		}
		return ReplicateResult{}, nil
	}}
	env := newEnv(t, f)
	signalAt(env, 0, entries(0, 1))
	queryAt(t, env, 30*time.Second, func(s Status) {
		assert.Equal(t, int64(1), s.Skipped)
		assert.Equal(t, int64(1), s.Completed)
		assert.Equal(t, int64(0), s.Failed)
		assert.Equal(t, int64(2), s.Processed)
		assert.Contains(t, s.LastError, "NoSuchVersion: source version v0 is gone")
	})
	runUntil(t, env, params(Config{}), time.Minute)
	assert.Equal(t, []string{"R0#1", "R1#1", "Sv1=COMPLETED#1"}, f.Events(), "no status write for a version that is gone")
}

func TestSetStatusRetriedUntilWritten(t *testing.T) {
	f := &fakes{setStatus: func(in SetStatusInput, attempt int32) error {
		if in.VersionID == "v0" && attempt <= 8 {
			return temporal.NewApplicationError("source endpoint down", "Unavailable")
		}
		if in.VersionID == "v1" {
			return temporal.NewApplicationError("version v1 is gone", ErrTypeNoSuchVersion)
		}
		return nil
	}}
	env := newEnv(t, f)
	signalAt(env, 0, entries(0, 1, 2))
	// The default status policy retries forever (MaximumAttempts 0, see
	// TestConfigDefaults); the test environment turns "forever" into 10 attempts, so 8
	// failures are used here: more than the replication policy's 6 attempts, with
	// backoff 1 s ×2 capped at 60 s: 1+2+4+8+16+32+60+60 = 183 s.
	queryAt(t, env, 170*time.Second, func(s Status) {
		require.NotNil(t, s.Current, "still writing the status of entry 0")
		assert.Equal(t, int64(0), s.Current.Offset)
		assert.Equal(t, PhaseSetStatus, s.Current.Phase)
		assert.Equal(t, record.StatusCompleted, s.Current.Status)
		assert.Equal(t, int64(0), s.Processed)
	})
	queryAt(t, env, 10*time.Minute, func(s Status) {
		assert.Equal(t, int64(3), s.Processed)
		assert.Equal(t, int64(3), s.Completed)
		assert.Equal(t, int64(1), s.StatusErrors)
		assert.Contains(t, s.LastError, "could not set status COMPLETED: NoSuchVersion: version v1 is gone (not retried)")
	})
	runUntil(t, env, params(Config{}), time.Hour)
	assert.Equal(t, 9, f.count("Sv0=COMPLETED#"), "8 failures then the write")
	assert.Equal(t, 1, f.count("Sv1=COMPLETED#"), "no version to mark: not retried")
	assert.Equal(t, []string{"v0", "v2"}, []string{f.Statuses()[0].VersionID, f.Statuses()[1].VersionID})
}

func TestNotReplicableEntries(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	completed := entry(0)
	completed.Record.Op = record.OpStatus
	completed.Record.Replication.Status = record.StatusCompleted
	noRepl := entry(1)
	noRepl.Record.Replication = nil
	deleted := entry(2)
	deleted.Record.Op = record.OpDeleteVersion
	metaOnly := entry(3)
	metaOnly.Record.Op = record.OpMetadata
	metaOnly.Record.Replication.Content = []string{"METADATA"}
	retry := entry(4)
	retry.Record.Op = record.OpStatus // back to PENDING: starter failed retry
	marker := entry(5)
	marker.Record.Op = record.OpDeleteMarker
	marker.Record.IsDeleteMarker = true
	signalAt(env, 0, EntriesSignal{Entries: []Entry{completed, noRepl, deleted, metaOnly, retry, marker}})
	queryAt(t, env, 30*time.Second, func(s Status) {
		assert.Equal(t, int64(6), s.Processed)
		assert.Equal(t, int64(2), s.Skipped)
		assert.Equal(t, int64(1), s.Failed)
		assert.Equal(t, int64(3), s.Completed)
	})
	runUntil(t, env, params(Config{}), time.Minute)
	assert.Equal(t, []string{
		"Sv2=FAILED#1",
		"R3#1", "Sv3=COMPLETED#1",
		"R4#1", "Sv4=COMPLETED#1",
		"R5#1", "Sv5=COMPLETED#1",
	}, f.Events())
	assert.Equal(t, `not replicable: op "delete-version" with replication status PENDING`, f.Statuses()[0].Reason)
	assert.Equal(t, metaOnly, f.inputs[0].Entry, "metadata-only entries go to the same activity, untouched")
}

func decodeContinueAsNew(t *testing.T, err error) Params {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.Truef(t, errors.As(err, &can), "want ContinueAsNewError, got %v", err)
	assert.Equal(t, WorkflowName, can.WorkflowType.Name)
	var p Params
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &p))
	return p
}

func offsets(q []Entry) []int64 {
	var o []int64
	for _, e := range q {
		o = append(o, e.Offset)
	}
	return o
}

func TestContinueAsNewCarriesQueueAndLateSignals(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	cfg := Config{ContinueAsNewAfter: 3, Retry: RetryConfig{MaxRetries: 3}}
	signalAt(env, 0, entries(0, 1, 2, 3, 4))
	// Entry 2 is marked from 5 s to 6 s; then the run must continue as new. These
	// signals reach the workflow in the same workflow task as that completion: only
	// draining the channels before ContinueAsNew keeps them.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(SignalEntries, entries(4, 5, 6))
		env.SignalWorkflowSkippingWorkflowTask(SignalPause, nil)
	}, 5500*time.Millisecond)
	env.ExecuteWorkflow(WorkflowName, params(cfg))
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
	assert.Equal(t, cfg.WithDefaults(), p.Config)

	// The next run picks up where this one stopped.
	f2 := &fakes{}
	env2 := newEnv(t, f2)
	signalAt(env2, 0, entries(6, 7)) // 6 redelivered
	queryAt(t, env2, time.Second, func(s Status) {
		assert.True(t, s.Paused)
		assert.Equal(t, 5, s.Backlog)
		assert.Equal(t, 2, s.Run)
		assert.Equal(t, int64(2), s.Duplicates)
		assert.Equal(t, 0, s.ProcessedThisRun)
		env2.SignalWorkflow(SignalResume, nil)
	})
	queryAt(t, env2, 10*time.Second, func(s Status) {
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
	env.ExecuteWorkflow(WorkflowName, params(Config{}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	assert.Equal(t, completedSequence(0, 1), f.Events(), "the entry in flight finishes first")
	assert.Equal(t, []int64{2, 3, 4}, offsets(p.State.Queue))
	assert.Equal(t, int64(2), p.State.Processed)
}

func TestContinueAsNewAfterMaxSignalsDrainsBufferedSignals(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPause, nil) }, 0)
	// Three signals handled in one workflow task: the loop takes the first, reaches
	// MaxSignalsPerRun (pause + 1), and must drain the other two before ContinueAsNew.
	env.RegisterDelayedCallback(func() {
		env.SignalWorkflowSkippingWorkflowTask(SignalEntries, entries(0))
		env.SignalWorkflowSkippingWorkflowTask(SignalEntries, entries(1, 2))
		env.SignalWorkflow(SignalEntries, entries(2, 3))
	}, time.Second)
	env.ExecuteWorkflow(WorkflowName, params(Config{MaxSignalsPerRun: 2}))
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
	env.ExecuteWorkflow(WorkflowName, params(Config{ContinueAsNewAfter: 1, MaxCarryBytes: limit}))
	require.True(t, env.IsWorkflowCompleted())
	p := decodeContinueAsNew(t, env.GetWorkflowError())
	assert.Equal(t, []int64{4, 5}, offsets(p.State.Queue), "continued as new once the backlog fit")
	assert.Equal(t, completedSequence(0, 1, 2, 3), f.Events())
}

func TestPauseResume(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(0, 1, 2, 3, 4))
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPause, nil) }, 2500*time.Millisecond) // entry 1 in flight
	queryAt(t, env, 3*time.Second, func(s Status) {
		assert.True(t, s.Paused)
		require.NotNil(t, s.Current, "the entry in flight finishes")
		assert.Equal(t, int64(1), s.Current.Offset)
	})
	queryAt(t, env, 19*time.Second, func(s Status) {
		assert.True(t, s.Paused)
		assert.Nil(t, s.Current)
		assert.Equal(t, int64(2), s.Processed)
		assert.Equal(t, 3, s.Backlog)
		assert.Equal(t, int64(4), s.LastOffset)
		assert.Equal(t, completedSequence(0, 1), f.Events())
	})
	signalAt(env, 19*time.Second, entries(5)) // accepted while paused
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalResume, nil) }, 20*time.Second)
	queryAt(t, env, 40*time.Second, func(s Status) {
		assert.False(t, s.Paused)
		assert.Equal(t, int64(6), s.Processed)
		assert.Equal(t, 0, s.Backlog)
	})
	runUntil(t, env, params(Config{}), time.Minute)
	assert.Equal(t, completedSequence(span(0, 5)...), f.Events())
}

func TestStatusAndDetails(t *testing.T) {
	f := &fakes{}
	env := newEnv(t, f)
	slow(env, f, time.Second)
	signalAt(env, 0, entries(10, 11, 12))
	queryAt(t, env, 500*time.Millisecond, func(s Status) {
		assert.Equal(t, testTopic, s.Topic)
		assert.Equal(t, testPartition, s.Partition)
		assert.Equal(t, 3, s.Backlog)
		assert.Equal(t, 3*entrySize(entry(10)), s.BacklogBytes)
		require.NotNil(t, s.Current)
		assert.Equal(t, EntryRef{Offset: 10, Op: record.OpPut, Bucket: "source-bucket", Key: "key-10", VersionID: "v10",
			Phase: PhaseReplicate, Since: s.Current.Since}, *s.Current)
		assert.Equal(t, int64(12), s.LastOffset)
		assert.Equal(t, 1, s.Run)
		assert.Equal(t, 1, s.SignalsThisRun)
	})
	queryAt(t, env, 1500*time.Millisecond, func(s Status) {
		require.NotNil(t, s.Current)
		assert.Equal(t, PhaseSetStatus, s.Current.Phase)
		assert.Equal(t, record.StatusCompleted, s.Current.Status)
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
	queryAt(t, env, 10*time.Second, func(s Status) {
		assert.Nil(t, s.Current)
		assert.Equal(t, 0, s.Backlog)
		assert.Equal(t, 0, s.BacklogBytes)
		assert.Equal(t, int64(3), s.Processed)
		assert.Equal(t, 3, s.ProcessedThisRun)
		assert.Equal(t, "", s.LastError)
	})
	runUntil(t, env, params(Config{}), time.Minute)
}

// upserts records the search attribute upserts, in order.
type upserts struct {
	mu   sync.Mutex
	list []temporal.SearchAttributes
}

func (u *upserts) mock(env *testsuite.TestWorkflowEnvironment) {
	env.OnUpsertTypedSearchAttributes(mock.MatchedBy(func(sa temporal.SearchAttributes) bool {
		u.mu.Lock()
		u.list = append(u.list, sa)
		u.mu.Unlock()
		return true
	})).Return(nil)
}

// merged is the search attributes after all the upserts.
func (u *upserts) merged() map[string]any {
	u.mu.Lock()
	defer u.mu.Unlock()
	m := map[string]any{}
	for _, sa := range u.list {
		for k, v := range sa.GetUntypedValues() {
			m[k.GetName()] = v
		}
	}
	return m
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
		first, _ := u.list[0].GetInt64(PartitionKey)
		assert.Equal(t, int64(testPartition), first)
		topic, _ := u.list[0].GetKeyword(TopicKey)
		assert.Equal(t, testTopic, topic)
		backlog, _ := u.list[len(u.list)-1].GetInt64(BacklogKey)
		assert.Equal(t, int64(3), backlog, "backlog upserted when entry 0 started, not per signal")
		assert.LessOrEqual(t, len(u.list), 2)
	}, 900*time.Millisecond)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPause, nil) }, 30*time.Second)
	env.RegisterDelayedCallback(func() {
		m := u.merged()
		assert.Equal(t, map[string]any{SearchAttrPartition: int64(3), SearchAttrTopic: testTopic,
			SearchAttrBacklog: int64(0), SearchAttrProcessed: int64(8), SearchAttrPaused: true}, m)
	}, 31*time.Second)
	runUntil(t, env, params(Config{}), time.Minute)
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
	runUntil(t, env, params(Config{DisableSearchAttributes: true}), time.Minute)
	assert.Len(t, f.Statuses(), 2)
	assert.Empty(t, u.list)
}

func TestInvalidParams(t *testing.T) {
	env := newEnv(t, &fakes{})
	env.ExecuteWorkflow(WorkflowName, Params{Partition: 1})
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, ErrTypeInvalidConfig, appErr.Type())
}

func TestNames(t *testing.T) {
	assert.Equal(t, "backbeat-replication/backbeat-replication/7", WorkflowID("backbeat-replication", 7))
	assert.Equal(t, map[string]string{"BackbeatPartition": "Int", "BackbeatTopic": "Keyword", "BackbeatBacklog": "Int",
		"BackbeatPaused": "Bool", "BackbeatProcessed": "Int"}, SearchAttributes())
}

func TestConfigDefaults(t *testing.T) {
	d := DefaultConfig()
	assert.Equal(t, RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 1.5, MaximumInterval: 300 * time.Second, MaxRetries: 5}, d.Retry)
	assert.Equal(t, int32(6), d.Retry.MaximumAttempts())
	assert.Equal(t, int32(0), d.StatusRetry.MaximumAttempts(), "status writes retry forever")
	assert.Equal(t, 1000, d.ContinueAsNewAfter)
	assert.Equal(t, 5000, d.MaxSignalsPerRun)
	assert.Equal(t, time.Hour, d.ActivityTimeout)
	assert.Equal(t, 60*time.Second, d.HeartbeatTimeout)
	assert.Equal(t, 30*time.Second, d.StatusTimeout)
	assert.Equal(t, 1<<20, d.MaxCarryBytes)
	assert.Equal(t, int32(1), RetryConfig{MaxRetries: NoRetries}.MaximumAttempts())

	c := Config{Retry: RetryConfig{InitialInterval: 10 * time.Second, MaximumInterval: time.Second, BackoffCoefficient: 0.5}}.WithDefaults()
	assert.Equal(t, RetryConfig{InitialInterval: 10 * time.Second, BackoffCoefficient: 1.5, MaximumInterval: 10 * time.Second, MaxRetries: 5}, c.Retry)
	p := DefaultConfig().Retry.Policy(ReplicateNonRetryableErrorTypes())
	assert.Contains(t, p.NonRetryableErrorTypes, ErrTypeAccessDenied)
	assert.Equal(t, int32(6), p.MaximumAttempts)
}

// TestSignalPayloadBound checks the documented bound: a full signal of the largest
// records stays well below Temporal's 2 MB payload limit.
func TestSignalPayloadBound(t *testing.T) {
	big := entry(1 << 40)
	big.Record.Key = strings.Repeat("k", 1024)
	big.Record.UserMetadata = map[string]string{"x-amz-meta-big": strings.Repeat("m", 2000)}
	big.Record.Tags = map[string]string{}
	for i := range 10 {
		big.Record.Tags[fmt.Sprintf("%0128d", i)] = strings.Repeat("v", 256)
	}
	sig := EntriesSignal{}
	for range MaxEntriesPerSignal {
		sig.Entries = append(sig.Entries, big)
	}
	pl, err := converter.GetDefaultDataConverter().ToPayload(sig)
	require.NoError(t, err)
	assert.Less(t, len(pl.Data), 1<<20)
	assert.Less(t, entrySize(big), 8<<10)
}

func TestReason(t *testing.T) {
	rc := DefaultRetry()
	nr := ReplicateNonRetryableErrorTypes()
	assert.Equal(t, "timed out (Heartbeat) (gave up after 6 attempts)",
		reason(temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), rc, nr))
	assert.Equal(t, "InvalidEntry: no key (not retried)", reason(temporal.NewApplicationError("no key", ErrTypeInvalidEntry), rc, nr))
	assert.Equal(t, "slow down (gave up after 6 attempts)", reason(temporal.NewApplicationError("slow down", "SlowDown"), rc, nr))
	assert.Equal(t, "cancelled", reason(temporal.NewCanceledError(), rc, nr))
	assert.Equal(t, "boom", reason(errors.New("boom"), RetryConfig{MaxRetries: RetryForever}, nr))
	long := reason(errors.New(strings.Repeat("é", 1000)), RetryConfig{MaxRetries: RetryForever}, nr)
	assert.LessOrEqual(t, len(long), maxReasonLen+len("…"))
	assert.True(t, strings.HasSuffix(long, "é…"), "cut on a rune boundary")
}

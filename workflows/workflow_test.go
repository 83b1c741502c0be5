package workflows

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
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

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
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
	inputs []contract.ReplicateInput
	status []contract.SetStatusInput // successful status writes
	// replicate and setStatus decide an attempt's outcome; nil succeeds.
	replicate func(in contract.ReplicateInput, attempt int32) (contract.ReplicateResult, error)
	setStatus func(in contract.SetStatusInput, attempt int32) error
	// worker is what the worker's configuration local activity answers (zero: the
	// worker sets nothing, Params' configuration applies).
	worker contract.Config
}

func (f *fakes) workerConfigActivity(context.Context) (contract.Config, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.worker, nil
}

func (f *fakes) replicateActivity(ctx context.Context, in contract.ReplicateInput) (contract.ReplicateResult, error) {
	attempt := activity.GetInfo(ctx).Attempt
	f.mu.Lock()
	f.events = append(f.events, fmt.Sprintf("R%d#%d", in.Entry.Offset, attempt))
	f.inputs = append(f.inputs, in)
	fn := f.replicate
	f.mu.Unlock()
	if fn != nil {
		return fn(in, attempt)
	}
	return contract.ReplicateResult{Bytes: in.Entry.Record.Size}, nil
}

func (f *fakes) setStatusActivity(ctx context.Context, in contract.SetStatusInput) error {
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

func (f *fakes) Statuses() []contract.SetStatusInput {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]contract.SetStatusInput(nil), f.status...)
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
	env := newBaseEnv(t, f)
	// These tests cover the entry-by-entry path (runs begun before batches); batch_test.go
	// covers batches.
	env.OnGetVersion(batchChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	return env
}

// newBaseEnv is newEnv for runs of the current code.
func newBaseEnv(t *testing.T, f *fakes) *testsuite.TestWorkflowEnvironment {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	ts.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))))
	env := ts.NewTestWorkflowEnvironment()
	env.RegisterWorkflowWithOptions(PartitionWorkflow, workflow.RegisterOptions{Name: contract.WorkflowName})
	env.RegisterActivityWithOptions(f.replicateActivity, activity.RegisterOptions{Name: contract.ActivityReplicate})
	env.RegisterActivityWithOptions(f.setStatusActivity, activity.RegisterOptions{Name: contract.ActivitySetStatus})
	env.RegisterActivityWithOptions(f.workerConfigActivity, activity.RegisterOptions{Name: contract.ActivityWorkflowConfig})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: contract.WorkflowID(testTopic, testPartition), TaskQueue: contract.TaskQueue})
	return env
}

// slow makes every attempt of both activities take d of workflow time.
func slow(env *testsuite.TestWorkflowEnvironment, f *fakes, d time.Duration) {
	env.OnActivity(contract.ActivityReplicate, mock.Anything, mock.Anything).After(d).Return(f.replicateActivity)
	env.OnActivity(contract.ActivitySetStatus, mock.Anything, mock.Anything).After(d).Return(f.setStatusActivity)
}

func entry(off int64) contract.Entry {
	return contract.Entry{Topic: testTopic, Partition: testPartition, Offset: off, Record: bbproto.Record{
		Seq: uint64(1000 + off), Op: bbproto.OpPut, Bucket: "source-bucket", Key: fmt.Sprintf("key-%d", off),
		VersionID: fmt.Sprintf("v%d", off), Size: 100 + off, ETag: "etag",
		Replication: &bbproto.Replication{Status: bbproto.StatusPending, Role: "arn:aws:iam::root:role/r",
			Destination: "arn:aws:s3:::target-bucket", Content: []bbproto.Content{"DATA", "METADATA"}},
	}}
}

func entries(offsets ...int64) contract.EntriesSignal {
	var s contract.EntriesSignal
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

func signalAt(env *testsuite.TestWorkflowEnvironment, d time.Duration, sig contract.EntriesSignal) {
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(contract.SignalEntries, sig) }, d)
}

func queryAt(t *testing.T, env *testsuite.TestWorkflowEnvironment, d time.Duration, check func(contract.Status)) {
	t.Helper()
	env.RegisterDelayedCallback(func() {
		check(queryStatus(t, env))
	}, d)
}

func queryStatus(t *testing.T, env *testsuite.TestWorkflowEnvironment) contract.Status {
	t.Helper()
	v, err := env.QueryWorkflow(contract.QueryStatus)
	require.NoError(t, err)
	var s contract.Status
	require.NoError(t, v.Get(&s))
	return s
}

// runUntil runs the workflow with p and cancels it at d; it must end cancelled.
func runUntil(t *testing.T, env *testsuite.TestWorkflowEnvironment, p contract.Params, d time.Duration) {
	t.Helper()
	var last contract.Status
	env.RegisterDelayedCallback(func() {
		last = queryStatus(t, env)
		env.CancelWorkflow()
	}, d)
	env.ExecuteWorkflow(contract.WorkflowName, p)
	require.True(t, env.IsWorkflowCompleted())
	err := env.GetWorkflowError()
	var canceled *temporal.CanceledError
	require.Truef(t, errors.As(err, &canceled), "workflow should end cancelled, got %v (status %+v)", err, last)
}

func params(cfg contract.Config) contract.Params {
	return contract.Params{Topic: testTopic, Partition: testPartition, Config: cfg}
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

// beforeDurable makes the run one whose history began before durable retries
// (durableRetryChange answers DefaultVersion): a version is FAILED after Config.Retry,
// a status write is retried inside one activity.
func beforeDurable(env *testsuite.TestWorkflowEnvironment) {
	env.OnGetVersion(durableRetryChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
}

// The defaults before durable retries, which the runs begun before them carry in Params.
var (
	oldRetry       = contract.RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 1.5, MaximumInterval: 300 * time.Second, MaxRetries: 5}
	oldStatusRetry = contract.RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 60 * time.Second, MaxRetries: contract.RetryForever}
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

func decodeContinueAsNew(t *testing.T, err error) contract.Params {
	t.Helper()
	var can *workflow.ContinueAsNewError
	require.Truef(t, errors.As(err, &can), "want ContinueAsNewError, got %v", err)
	assert.Equal(t, contract.WorkflowName, can.WorkflowType.Name)
	var p contract.Params
	require.NoError(t, converter.GetDefaultDataConverter().FromPayloads(can.Input, &p))
	return p
}

func offsets(q []contract.Entry) []int64 {
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

func TestInvalidParams(t *testing.T) {
	env := newEnv(t, &fakes{})
	env.ExecuteWorkflow(contract.WorkflowName, contract.Params{Partition: 1})
	require.True(t, env.IsWorkflowCompleted())
	var appErr *temporal.ApplicationError
	require.True(t, errors.As(env.GetWorkflowError(), &appErr))
	assert.Equal(t, contract.KindInvalidConfig.ErrorType(), appErr.Type())
}

func TestNames(t *testing.T) {
	assert.Equal(t, "backbeat-replication/backbeat-replication/7", contract.WorkflowID("backbeat-replication", 7))
	assert.Equal(t, map[string]string{"BackbeatPartition": "Int", "BackbeatTopic": "Keyword", "BackbeatBacklog": "Int",
		"BackbeatPaused": "Bool", "BackbeatProcessed": "Int"}, contract.SearchAttributes())
}

func TestConfigDefaults(t *testing.T) {
	d := contract.DefaultConfig()
	assert.Equal(t, contract.RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaxRetries: 3}, d.Retry)
	assert.Equal(t, int32(4), d.Retry.MaximumAttempts())
	assert.Equal(t, int32(5), d.StatusRetry.MaximumAttempts(), "a status write burst; the workflow retries it without end")
	assert.Equal(t, 24*time.Hour, d.RetryBudget)
	assert.Equal(t, 5, d.BreakerThreshold)
	assert.Equal(t, 1000, d.ContinueAsNewAfter)
	assert.Equal(t, 5000, d.MaxSignalsPerRun)
	assert.Equal(t, time.Hour, d.ActivityTimeout)
	assert.Equal(t, 60*time.Second, d.HeartbeatTimeout)
	assert.Equal(t, 30*time.Second, d.StatusTimeout)
	assert.Equal(t, 1<<20, d.MaxCarryBytes)
	assert.Equal(t, 8, d.MaxConcurrent)
	assert.Equal(t, 8, contract.Config{MaxConcurrent: -1}.WithDefaults().MaxConcurrent)
	assert.Equal(t, 1, contract.Config{MaxConcurrent: 1}.WithDefaults().MaxConcurrent)
	assert.Equal(t, int32(1), contract.RetryConfig{MaxRetries: contract.NoRetries}.MaximumAttempts())

	c := contract.Config{Retry: contract.RetryConfig{InitialInterval: 10 * time.Second, MaximumInterval: time.Second, BackoffCoefficient: 0.5}}.WithDefaults()
	assert.Equal(t, contract.RetryConfig{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 10 * time.Second, MaxRetries: 3}, c.Retry)
	p := retryPolicy(contract.DefaultConfig().Retry, contract.ReplicateNonRetryableErrorTypes())
	assert.Contains(t, p.NonRetryableErrorTypes, contract.KindAccessDenied.ErrorType())
	assert.Equal(t, int32(4), p.MaximumAttempts)
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
	sig := contract.EntriesSignal{}
	for range contract.MaxEntriesPerSignal {
		sig.Entries = append(sig.Entries, big)
	}
	pl, err := converter.GetDefaultDataConverter().ToPayload(sig)
	require.NoError(t, err)
	assert.Less(t, len(pl.Data), 1<<20)
	assert.Less(t, entrySize(big), 8<<10)
}

func TestReason(t *testing.T) {
	rc := contract.DefaultRetry()
	nr := contract.ReplicateNonRetryableErrorTypes()
	assert.Equal(t, "timed out (Heartbeat) (gave up after 4 attempts)",
		reason(temporal.NewTimeoutError(enumspb.TIMEOUT_TYPE_HEARTBEAT, nil), rc, nr))
	assert.Equal(t, "InvalidEntry: no key (not retried)", reason(temporal.NewApplicationError("no key", contract.KindInvalidEntry.ErrorType()), rc, nr))
	assert.Equal(t, "slow down (gave up after 4 attempts)", reason(temporal.NewApplicationError("slow down", "SlowDown"), rc, nr))
	assert.Equal(t, "cancelled", reason(temporal.NewCanceledError(), rc, nr))
	assert.Equal(t, "boom", reason(errors.New("boom"), contract.RetryConfig{MaxRetries: contract.RetryForever}, nr))
	long := reason(errors.New(strings.Repeat("é", 1000)), contract.RetryConfig{MaxRetries: contract.RetryForever}, nr)
	assert.LessOrEqual(t, len(long), maxReasonLen+len("…"))
	assert.True(t, strings.HasSuffix(long, "é…"), "cut on a rune boundary")
}

// keyed is entry(off) for object key (bucket source-bucket), version v<off>.
func keyed(off int64, key string) contract.Entry {
	e := entry(off)
	e.Record.Key = key
	return e
}

// slowBy makes every attempt of both activities of the entry at offset o take dur(o) of
// workflow time; durations lists the values dur returns.
func slowBy(env *testsuite.TestWorkflowEnvironment, f *fakes, dur func(off int64) time.Duration, durations ...time.Duration) {
	for _, d := range durations {
		env.OnActivity(contract.ActivityReplicate, mock.Anything, mock.MatchedBy(func(in contract.ReplicateInput) bool {
			return dur(in.Entry.Offset) == d
		})).After(d).Return(f.replicateActivity)
		env.OnActivity(contract.ActivitySetStatus, mock.Anything, mock.MatchedBy(func(in contract.SetStatusInput) bool {
			var off int64
			_, err := fmt.Sscanf(in.VersionID, "v%d", &off)
			return err == nil && dur(off) == d
		})).After(d).Return(f.setStatusActivity)
	}
}

// entrySpan is when one entry was busy, in workflow time: from the start of its first
// activity attempt to the end of its last activity.
type entrySpan struct {
	off        int64
	key        string
	start, end time.Time
}

// timeline records entry spans from the test environment's activity listeners, which
// run on the environment's main loop (env.Now is the workflow clock there).
type timeline struct {
	mu    sync.Mutex
	env   *testsuite.TestWorkflowEnvironment
	byOff map[int64]*entrySpan
	byAct map[string]int64 // activity ID → offset
	order []int64          // offsets in start order
}

func newTimeline(env *testsuite.TestWorkflowEnvironment) *timeline {
	tl := &timeline{env: env, byOff: map[int64]*entrySpan{}, byAct: map[string]int64{}}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var off int64
		var key string
		switch info.ActivityType.Name {
		case contract.ActivityReplicate:
			var in contract.ReplicateInput
			if args.Get(&in) != nil {
				return
			}
			off, key = in.Entry.Offset, in.Entry.Record.Bucket+"/"+in.Entry.Record.Key
		case contract.ActivitySetStatus:
			var in contract.SetStatusInput
			if args.Get(&in) != nil {
				return
			}
			if _, err := fmt.Sscanf(in.VersionID, "v%d", &off); err != nil {
				return
			}
			key = in.Bucket + "/" + in.Key
		}
		tl.mu.Lock()
		defer tl.mu.Unlock()
		tl.byAct[info.ActivityID] = off
		if _, ok := tl.byOff[off]; !ok {
			tl.byOff[off] = &entrySpan{off: off, key: key, start: env.Now()}
			tl.order = append(tl.order, off)
		}
	})
	env.SetOnActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		tl.ended(info)
	})
	// The status write is a local activity by default (Config.LocalStatus).
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, args []any) {
		if info.ActivityType.Name != contract.ActivitySetStatus || len(args) != 1 {
			return
		}
		in, ok := args[0].(contract.SetStatusInput)
		var off int64
		if _, err := fmt.Sscanf(in.VersionID, "v%d", &off); !ok || err != nil {
			return
		}
		tl.mu.Lock()
		defer tl.mu.Unlock()
		tl.byAct["local/"+info.ActivityID] = off
		if _, ok := tl.byOff[off]; !ok {
			tl.byOff[off] = &entrySpan{off: off, key: in.Bucket + "/" + in.Key, start: env.Now()}
			tl.order = append(tl.order, off)
		}
	})
	env.SetOnLocalActivityCompletedListener(func(info *activity.Info, _ converter.EncodedValue, _ error) {
		info2 := *info
		info2.ActivityID = "local/" + info.ActivityID
		tl.ended(&info2)
	})
	return tl
}

func (tl *timeline) ended(info *activity.Info) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	if off, ok := tl.byAct[info.ActivityID]; ok {
		tl.byOff[off].end = tl.env.Now()
	}
}

// spans returns the entry spans in start order.
func (tl *timeline) spans() []entrySpan {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	var s []entrySpan
	for _, off := range tl.order {
		s = append(s, *tl.byOff[off])
	}
	return s
}

// maxConcurrency is the most entries busy at one instant (an entry ending when another
// starts does not overlap it).
func maxConcurrency(spans []entrySpan) int {
	best := 0
	for _, a := range spans {
		n := 0
		for _, b := range spans {
			if !b.start.After(a.start) && b.end.After(a.start) {
				n++
			}
		}
		best = max(best, n)
	}
	return best
}

// checkPerObjectOrder asserts that the entries of one object never overlap and ran in
// offset order, and that every entry ended.
func checkPerObjectOrder(t *testing.T, spans []entrySpan) {
	t.Helper()
	last := map[string]entrySpan{}
	for _, s := range spans { // start order
		assert.Falsef(t, s.end.IsZero(), "entry %d never ended", s.off)
		if p, ok := last[s.key]; ok {
			assert.Greaterf(t, s.off, p.off, "%s: entry %d started after %d", s.key, s.off, p.off)
			assert.Falsef(t, s.start.Before(p.end), "%s: entry %d started at %s, before %d ended at %s",
				s.key, s.off, s.start.Format(time.StampMilli), p.off, p.end.Format(time.StampMilli))
		}
		last[s.key] = s
	}
}

func windowEntries(keys []string, offsets ...int64) contract.EntriesSignal {
	var s contract.EntriesSignal
	for _, o := range offsets {
		s.Entries = append(s.Entries, keyed(o, keys[o%int64(len(keys))]))
	}
	return s
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

func completedVersions(offsets ...int64) []string {
	var v []string
	for _, o := range offsets {
		v = append(v, fmt.Sprintf("v%d", o))
	}
	return v
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

func refOffsets(refs []contract.EntryRef) []int64 {
	o := []int64{}
	for _, r := range refs {
		o = append(o, r.Offset)
	}
	return o
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

// statusCalls counts the status write attempts started as regular activities and as
// local activities.
type statusCalls struct {
	mu             sync.Mutex
	regular, local int
}

func countStatusCalls(env *testsuite.TestWorkflowEnvironment) *statusCalls {
	c := &statusCalls{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == contract.ActivitySetStatus {
			c.mu.Lock()
			c.regular++
			c.mu.Unlock()
		}
	})
	env.SetOnLocalActivityStartedListener(func(info *activity.Info, _ context.Context, _ []any) {
		if info.ActivityType.Name == contract.ActivitySetStatus {
			c.mu.Lock()
			c.local++
			c.mu.Unlock()
		}
	})
	return c
}

func (c *statusCalls) get() (regular, local int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.regular, c.local
}

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

// journaled is keyed(off, key) at journal position j1/seq, version "s<seq>".
func journaled(off int64, seq uint64, key string) contract.Entry {
	e := keyed(off, key)
	e.JournalID, e.Seq = "j1", seq
	e.Record.Seq = seq
	e.Record.VersionID = fmt.Sprintf("s%d", seq)
	return e
}

func signalOf(es ...contract.Entry) contract.EntriesSignal {
	return contract.EntriesSignal{Entries: es}
}

// statusesByVersion counts the status writes of each version.
func statusesByVersion(f *fakes) map[string][]string {
	out := map[string][]string{}
	for _, s := range f.Statuses() {
		out[s.VersionID] = append(out[s.VersionID], string(s.Status))
	}
	return out
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

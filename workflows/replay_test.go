package workflows

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/temporalproto"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
	"github.com/backbeat-temporal/backbeat/internal/devstack"
)

// historiesDir holds histories recorded on a real Temporal server by
// TestRecordHistories, one file per run: <code version>-<scenario>-run<N>.json.
const historiesDir = "testdata/histories"

// recordEnv names the environment variable that turns TestRecordHistories on; its value
// is the prefix of the files it writes (the workflow code's version, e.g. "v1-offset").
const recordEnv = "BACKBEAT_RECORD_HISTORIES"

// TestReplayRecordedHistories replays every recorded history with the current workflow
// code: a change that would make a running workflow nondeterministic (a command added,
// removed or reordered without workflow.GetVersion) fails here.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded history under %s (see TestRecordHistories)", historiesDir)
	logger := tlog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			r := worker.NewWorkflowReplayer()
			r.RegisterWorkflowWithOptions(PartitionWorkflow, workflow.RegisterOptions{Name: contract.WorkflowName})
			require.NoError(t, r.ReplayWorkflowHistoryFromJSONFile(logger, f))
		})
	}
}

// recordScenario drives a partition workflow on a real server through entries of
// several objects, a replication that fails for good (FAILED), a version gone from the
// source (skipped), a pause with entries arriving, a resume, redelivered entries and
// ContinueAsNew (Config.ContinueAsNewAfter 4). entry builds the entry at an offset for
// a key (the caller decides what position it carries).
type recordScenario struct {
	name  string
	entry func(off int64, key string) contract.Entry
	// then runs after the common steps (e.g. entries at restarted offsets); nil: none.
	then func(t *testing.T, s *recorder)
}

// recorder runs one scenario on the server.
type recorder struct {
	c     client.Client
	id    string
	entry func(off int64, key string) contract.Entry
}

func (s *recorder) signal(t *testing.T, ctx context.Context, es ...contract.Entry) {
	t.Helper()
	_, err := s.c.SignalWithStartWorkflow(ctx, s.id, contract.SignalEntries, contract.EntriesSignal{Entries: es},
		client.StartWorkflowOptions{ID: s.id, TaskQueue: contract.TaskQueue},
		contract.WorkflowName, contract.Params{Topic: testTopic, Partition: testPartition,
			Config: contract.Config{ContinueAsNewAfter: 4, MaxConcurrent: 2, Retry: contract.RetryConfig{MaxRetries: contract.NoRetries}}})
	require.NoError(t, err)
}

func (s *recorder) send(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	require.NoError(t, s.c.SignalWorkflow(ctx, s.id, "", name, nil))
}

// waitFor queries the workflow until ok holds (or fails the test after a minute).
func (s *recorder) waitFor(t *testing.T, ctx context.Context, what string, ok func(contract.Status) bool) contract.Status {
	t.Helper()
	var last contract.Status
	require.Eventually(t, func() bool {
		v, err := s.c.QueryWorkflow(ctx, s.id, "", contract.QueryStatus)
		if err != nil {
			return false
		}
		if v.Get(&last) != nil {
			return false
		}
		return ok(last)
	}, time.Minute, 50*time.Millisecond, "waiting for %s; last status %+v", what, last)
	return last
}

// TestRecordHistories records the histories that TestReplayRecordedHistories replays.
// It runs only when BACKBEAT_RECORD_HISTORIES is set (to the files' prefix, e.g.
// "v1-offset"): record once per released change of the workflow code, and commit the
// files.
//
//	BACKBEAT_RECORD_HISTORIES=v2-journal go test -run TestRecordHistories ./workflows/
func TestRecordHistories(t *testing.T) {
	prefix := os.Getenv(recordEnv)
	if prefix == "" {
		t.Skip("set " + recordEnv + " to record histories")
	}
	for _, sc := range recordScenarios() {
		t.Run(sc.name, func(t *testing.T) { recordHistory(t, prefix, sc) })
	}
}

func recordHistory(t *testing.T, prefix string, sc recordScenario) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	tp := devstack.StartTemporal(t, devstack.TemporalHeadless(), devstack.TemporalSearchAttributes(contract.SearchAttributes()))
	c := tp.Client()
	w := worker.New(c, contract.TaskQueue, worker.Options{})
	w.RegisterWorkflowWithOptions(PartitionWorkflow, workflow.RegisterOptions{Name: contract.WorkflowName})
	flaky := &flakyTarget{}
	w.RegisterActivityWithOptions(flaky.replicate, activity.RegisterOptions{Name: contract.ActivityReplicate})
	w.RegisterActivityWithOptions(flaky.replicateBatch, activity.RegisterOptions{Name: contract.ActivityReplicateBatch})
	w.RegisterActivityWithOptions(func(context.Context, contract.SetStatusInput) error { return nil },
		activity.RegisterOptions{Name: contract.ActivitySetStatus})
	// The worker's configuration: its retry policy over the one in Params.
	w.RegisterActivityWithOptions(func(context.Context) (contract.Config, error) {
		return contract.Config{Retry: contract.DefaultRetry()}, nil
	},
		activity.RegisterOptions{Name: contract.ActivityWorkflowConfig})
	require.NoError(t, w.Start())
	defer w.Stop()

	s := &recorder{c: c, id: contract.WorkflowID(testTopic, testPartition), entry: sc.entry}
	s.signal(t, ctx, s.entry(0, "a"), s.entry(1, "b"), s.entry(2, "fail"))
	s.waitFor(t, ctx, "3 processed", func(st contract.Status) bool { return st.Processed == 3 })
	s.send(t, ctx, contract.SignalPause)
	s.waitFor(t, ctx, "paused", func(st contract.Status) bool { return st.Paused })
	s.signal(t, ctx, s.entry(3, "a"), s.entry(4, "c"), s.entry(5, "gone"))
	s.waitFor(t, ctx, "3 queued while paused", func(st contract.Status) bool { return st.Backlog == 3 })
	s.send(t, ctx, contract.SignalResume)
	s.waitFor(t, ctx, "6 processed", func(st contract.Status) bool { return st.Processed == 6 })
	s.signal(t, ctx, s.entry(4, "c"), s.entry(5, "gone"), s.entry(6, "a"), s.entry(7, "d"))
	st := s.waitFor(t, ctx, "8 processed", func(st contract.Status) bool { return st.Processed == 8 })
	assert.Equal(t, int64(2), st.Duplicates)
	assert.Equal(t, int64(1), st.Failed)
	assert.Equal(t, int64(1), st.Skipped)
	assert.Greater(t, st.Run, 1, "continued as new")
	if sc.then != nil {
		sc.then(t, s)
	}
	// An idle workflow's history ends with a completed workflow task: write every run.
	writeRuns(t, ctx, c, s.id, fmt.Sprintf("%s-%s", prefix, sc.name))
}

// flakyTarget fails the first flakyFailures attempts of key "flaky" retryably (durable
// retries: a burst, then attempts on workflow timers); other keys go to fakeReplicate.
type flakyTarget struct {
	mu       sync.Mutex
	attempts int
}

const flakyFailures = 5

func (f *flakyTarget) replicate(ctx context.Context, in contract.ReplicateInput) (contract.ReplicateResult, error) {
	if in.Entry.Record.Key == "flaky" {
		f.mu.Lock()
		f.attempts++
		n := f.attempts
		f.mu.Unlock()
		if n <= flakyFailures {
			return contract.ReplicateResult{}, temporal.NewApplicationError(fmt.Sprintf("target unreachable (attempt %d)", n), contract.ErrTypeRetryable)
		}
	}
	return fakeReplicate(ctx, in)
}

// batchFlakyFailures is how many batches answer OutcomeRetry for key "flaky" (a retry
// on a workflow timer each) before it is copied.
const batchFlakyFailures = 2

// replicateBatch stands for ActivityReplicateBatch, with the outcomes fakeReplicate
// gives each key, "flaky" retried batchFlakyFailures times, and key "nostatus" copied
// but its bulk status write failed (the workflow then writes it alone).
func (f *flakyTarget) replicateBatch(_ context.Context, in contract.ReplicateBatchInput) (contract.ReplicateBatchResult, error) {
	res := contract.ReplicateBatchResult{Outcomes: make([]contract.EntryOutcome, len(in.Entries))}
	for i, e := range in.Entries {
		o := contract.EntryOutcome{Outcome: contract.OutcomeDone, Bytes: e.Record.Size, Status: bbproto.StatusCompleted, StatusWritten: true}
		switch e.Record.Key {
		case "fail":
			o = contract.EntryOutcome{Outcome: contract.OutcomeFailed, Kind: contract.KindAccessDenied, Error: "target refused",
				Status: bbproto.StatusFailed, Reason: contract.KindAccessDenied.ErrorType() + ": target refused (not retried)", StatusWritten: true}
		case "gone":
			o = contract.EntryOutcome{Outcome: contract.OutcomeGone, Kind: contract.KindSourceGone, Error: "source version gone"}
		case "nostatus":
			o.StatusWritten, o.StatusError = false, "bulk status write refused"
		case "flaky":
			f.mu.Lock()
			f.attempts++
			n := f.attempts
			f.mu.Unlock()
			if n <= batchFlakyFailures {
				o = contract.EntryOutcome{Outcome: contract.OutcomeRetry, Kind: contract.KindRetryable, Error: fmt.Sprintf("target unreachable (attempt %d)", n)}
			}
		}
		res.Outcomes[i] = o
	}
	return res, nil
}

// fakeReplicate stands for the replication activity: key "fail" fails for good (access
// denied), key "gone" has no source version any more, any other key is copied.
func fakeReplicate(_ context.Context, in contract.ReplicateInput) (contract.ReplicateResult, error) {
	switch in.Entry.Record.Key {
	case "fail":
		return contract.ReplicateResult{}, temporal.NewNonRetryableApplicationError("target refused", contract.KindAccessDenied.ErrorType(), nil)
	case "gone":
		return contract.ReplicateResult{}, temporal.NewNonRetryableApplicationError("source version gone", contract.KindSourceGone.ErrorType(), nil)
	}
	return contract.ReplicateResult{Bytes: in.Entry.Record.Size}, nil
}

// writeRuns writes the history of every run of workflow id, oldest first, following
// the ContinueAsNew chain from the first run.
func writeRuns(t *testing.T, ctx context.Context, c client.Client, id, name string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(historiesDir, 0o755))
	desc, err := c.DescribeWorkflowExecution(ctx, id, "")
	require.NoError(t, err)
	runID := desc.WorkflowExecutionInfo.GetFirstRunId()
	for n := 1; runID != ""; n++ {
		var h historypb.History
		next := ""
		it := c.GetWorkflowHistory(ctx, id, runID, false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			require.NoError(t, err)
			h.Events = append(h.Events, ev)
			if a := ev.GetWorkflowExecutionContinuedAsNewEventAttributes(); a != nil {
				next = a.GetNewExecutionRunId()
			}
		}
		if !slices.ContainsFunc(h.Events, func(ev *historypb.HistoryEvent) bool {
			return ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED
		}) {
			t.Logf("run %d not written: no workflow task completed yet, nothing to replay", n)
			break
		}
		data, err := temporalproto.CustomJSONMarshalOptions{Indent: " "}.Marshal(&h)
		require.NoError(t, err)
		f := filepath.Join(historiesDir, fmt.Sprintf("%s-run%d.json", name, n))
		require.NoError(t, os.WriteFile(f, append(data, '\n'), 0o644))
		t.Logf("wrote %s (%d events)", f, len(h.Events))
		runID = next
	}
}

// recordScenarios are the scenarios recorded with the workflow code: entries without a
// journal position (offset dedupe), and with one, ending with Kafka offsets that restart
// from 0; durable retries; batches (mixed outcomes, a held version absorbing its
// duplicate). Each was recorded with the code of its time (prefix v1..v5: "batch" with
// v4, and v5 with the bound on partial batches); record the one a change is about, e.g.
//
//	BACKBEAT_RECORD_HISTORIES=v4 go test -run TestRecordHistories/batch ./workflows/
func recordScenarios() []recordScenario {
	return []recordScenario{
		{name: "offset", entry: keyed},
		{name: "durable", entry: func(off int64, key string) contract.Entry { return journaled(off, uint64(off+1), key) },
			then: func(t *testing.T, s *recorder) {
				// Durable retries: "flaky" fails a burst (the worker's Retry: 4
				// attempts), then one attempt on a timer, while "e" goes on; then it
				// completes (about 31 s).
				ctx := context.Background()
				s.signal(t, ctx, journaled(8, 9, "flaky"), journaled(9, 10, "e"))
				st := s.waitFor(t, ctx, "10 processed", func(st contract.Status) bool { return st.Processed == 10 })
				assert.Equal(t, int64(flakyFailures-3), st.Retried, "a first burst of 4 attempts (the worker's Retry), then one per timer")
				assert.Equal(t, int64(10), st.Completed+st.Failed+st.Skipped)
			}},
		{name: "batch", entry: func(off int64, key string) contract.Entry { return journaled(off, uint64(off+1), key) },
			then: func(t *testing.T, s *recorder) {
				// Batches (the common steps' batches already mix done, failed and
				// gone): while paused, a version arrives twice at two journal
				// positions (the held one absorbs the other), then one batch mixes a
				// retried entry, a copy and a copy whose bulk status write failed.
				ctx := context.Background()
				s.send(t, ctx, contract.SignalPause)
				s.waitFor(t, ctx, "paused", func(st contract.Status) bool { return st.Paused })
				again := journaled(11, 12, "e")
				again.Record.VersionID = "s10" // the version of journaled(9, 10, "e")
				s.signal(t, ctx, journaled(8, 9, "flaky"), journaled(9, 10, "e"), journaled(10, 11, "nostatus"), again)
				s.waitFor(t, ctx, "3 queued, 1 absorbed", func(st contract.Status) bool { return st.Backlog == 3 && st.Duplicates == 3 })
				s.send(t, ctx, contract.SignalResume)
				st := s.waitFor(t, ctx, "11 processed", func(st contract.Status) bool { return st.Processed == 11 })
				assert.Equal(t, int64(batchFlakyFailures), st.Retried, "one retry per batch outcome")
				assert.Equal(t, int64(11), st.Completed+st.Failed+st.Skipped)
			}},
		{name: "journal", entry: func(off int64, key string) contract.Entry { return journaled(off, uint64(off+1), key) },
			then: func(t *testing.T, s *recorder) {
				ctx := context.Background()
				s.signal(t, ctx, journaled(0, 100, "a"), journaled(1, 101, "e"))
				st := s.waitFor(t, ctx, "10 processed", func(st contract.Status) bool { return st.Processed == 10 })
				assert.Equal(t, int64(2), st.Duplicates, "offsets restarting from 0 are no duplicates")
			}},
	}
}

// TestRecordedHistoriesCoverScenarios checks that the recorded files include what the
// replay test is meant to cover.
func TestRecordedHistoriesCoverScenarios(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(historiesDir, "*.json"))
	require.NoError(t, err)
	var all strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		all.Write(data)
	}
	for _, want := range []string{"EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW", "EVENT_TYPE_MARKER_RECORDED", "EVENT_TYPE_ACTIVITY_TASK_FAILED", "EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES", `"signalName": "pause"`, `"signalName": "resume"`,
		`"ImpvdXJuYWwtZGVkdXBlIg=="`, // the version marker of journalDedupeChange, "journal-dedupe" in JSON and base64
		`"ImR1cmFibGUtcmV0cnki"`,     // the version marker of durableRetryChange, "durable-retry"
		"EVENT_TYPE_TIMER_FIRED",     // a durable retry's timer
		`"ImJhdGNoIg=="`,             // the version marker of batchChange, "batch"
		`"ImRlZHVwZS1oZWxkIg=="`,     // the version marker of dedupeHeldChange, "dedupe-held"
		`"name": "ReplicateBatch"`,   // a batch activity
	} {
		assert.Contains(t, all.String(), want)
	}
}

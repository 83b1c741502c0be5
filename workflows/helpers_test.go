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

func completedVersions(offsets ...int64) []string {
	var v []string
	for _, o := range offsets {
		v = append(v, fmt.Sprintf("v%d", o))
	}
	return v
}

func refOffsets(refs []contract.EntryRef) []int64 {
	o := []int64{}
	for _, r := range refs {
		o = append(o, r.Offset)
	}
	return o
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

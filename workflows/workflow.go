package workflows

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

// maxReasonLen bounds a FAILED reason and State.LastError.
const maxReasonLen = 1024

// localStatusChange is the workflow.GetVersion change ID of Config.LocalStatus: version
// 1 may run the status write as a local activity; DefaultVersion (a run whose history
// began before) always runs it as a regular activity.
const localStatusChange = "local-status"

// journalDedupeChange is the workflow.GetVersion change ID of the dedupe by journal
// position: version 1 drops an entry whose (JournalID, Seq) is at or below the highest
// accepted for its journal, and keeps the queue in arrival order; DefaultVersion (a run
// whose history began before) drops by offset only.
const journalDedupeChange = "journal-dedupe"

// durableRetryChange is the workflow.GetVersion change ID of durable retries: version 1
// reads the worker's configuration (ActivityWorkflowConfig) when the run starts, keeps
// per-entry retry state with backoff timers and a retry budget, per-target circuit
// breakers, and bounded status-write bursts (see retry.go); DefaultVersion (a run whose
// history began before) marks a version FAILED after Config.Retry and retries a status
// write forever inside one activity.
const durableRetryChange = "durable-retry"

// localStatusScheduleToClose is the ScheduleToCloseTimeout of the local status write:
// in effect none (ten years), so that Config.StatusRetry alone ends the retries.
const localStatusScheduleToClose = 10 * 365 * 24 * time.Hour

// Bounds of the current details line: the entries in flight it names, and the length
// of each name.
const (
	detailsMaxInFlight = 3
	detailsMaxName     = 120
)

// PartitionWorkflow replicates the entries of one Kafka partition: up to
// Config.MaxConcurrent entries at once, the versions of one object one after another in
// offset order (see the package documentation). It runs until cancelled, continuing as
// new now and then.
func PartitionWorkflow(ctx workflow.Context, p contract.Params) error {
	r, err := newRunner(ctx, p)
	if err != nil {
		return err
	}
	return r.run(ctx)
}

// inflight is a queued entry while its activities run.
type inflight struct {
	e      contract.Entry
	ref    contract.EntryRef
	fut    workflow.Future
	status contract.SetStatusInput // the status being written, in PhaseSetStatus
	// target is the breaker target of the phase (durable retries); probe: this entry is
	// the probe of its target's open breaker.
	target string
	probe  bool
	// batch is the batch in flight the entry belongs to (batches, see batch.go), nil
	// when it runs alone; once: its bursts are single attempts (batched entries).
	batch *batchRun
	once  bool
}

// saValues are the last upserted values of the changing search attributes.
type saValues struct {
	backlog, processed int64
	paused             bool
}

type runner struct {
	topic     string
	partition int32
	cfg       contract.Config
	st        *contract.State
	log       log.Logger
	runID     string

	entriesCh, pauseCh, resumeCh workflow.ReceiveChannel
	replicateCtx, statusCtx      workflow.Context
	// replicateOnceCtx and statusOnceCtx are the same with a single attempt: the
	// bursts after the first (durable retries).
	replicateOnceCtx, statusOnceCtx workflow.Context
	// localStatus: statusCtx carries local activity options and the status write is a
	// local activity (Config.LocalStatus, and this run began after localStatusChange).
	localStatus bool
	// journalDedupe: entries with a journal position are deduped by it (this run began
	// after journalDedupeChange).
	journalDedupe bool
	// durable: retries are durable (this run began after durableRetryChange); see
	// retry.go. carried is Params.Config as received, carried across ContinueAsNew.
	durable bool
	carried contract.Config
	retries
	// batching: replications go by batches (this run began after batchChange);
	// batchesInFlight counts them. dedupeHeld: an entry of a version already held (queued,
	// not in flight) is dropped (this run began after dedupeHeldChange). See batch.go.
	batching        bool
	batchesInFlight int
	dedupeHeld      bool
	// partialLimit is Config.PartialBatches in runs begun after partialBatchesChange (0:
	// no bound); partialInFlight counts the partial batches in flight.
	partialLimit, partialInFlight int

	// flying are the entries in flight, in offset order (a subset of st.Queue), at
	// most cfg.MaxConcurrent of them.
	flying           []*inflight
	queueBytes       int
	processedThisRun int
	signalsThisRun   int
	carryWarned      bool

	sa       saValues
	saSet    bool // the constant attributes are in place
	boundary bool // an entry started or finished, or pause changed, since the last upsert
}

func newRunner(ctx workflow.Context, p contract.Params) (*runner, error) {
	if p.Topic == "" || p.Partition < 0 {
		return nil, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("partition workflow needs a topic and a partition ≥ 0 (got %q, %d)", p.Topic, p.Partition),
			contract.KindInvalidConfig.ErrorType(), nil)
	}
	st := p.State
	if st == nil {
		st = &contract.State{}
	}
	st.Runs++
	r := &runner{
		topic:     p.Topic,
		partition: p.Partition,
		carried:   p.Config,
		st:        st,
		log:       workflow.GetLogger(ctx),
		runID:     workflow.GetInfo(ctx).WorkflowExecution.RunID,
		entriesCh: workflow.GetSignalChannel(ctx, contract.SignalEntries),
		pauseCh:   workflow.GetSignalChannel(ctx, contract.SignalPause),
		resumeCh:  workflow.GetSignalChannel(ctx, contract.SignalResume),
		boundary:  true,
	}
	for _, e := range st.Queue {
		r.queueBytes += entrySize(e)
	}
	if err := workflow.SetQueryHandler(ctx, contract.QueryStatus, func() (contract.Status, error) { return r.status(), nil }); err != nil {
		return nil, err
	}
	r.durable = workflow.GetVersion(ctx, durableRetryChange, workflow.DefaultVersion, 1) >= 1
	cfg := p.Config
	if r.durable {
		cfg = cfg.Overlay(workerConfig(ctx, r.log))
	}
	cfg = cfg.WithDefaults()
	if r.durable {
		cfg = durableConfig(cfg)
		r.loadRetries(st, cfg)
	}
	r.cfg = cfg
	hb := cfg.HeartbeatTimeout
	if hb < 0 {
		hb = 0
	}
	r.replicateCtx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: cfg.ActivityTimeout,
		HeartbeatTimeout:    hb,
		RetryPolicy:         retryPolicy(cfg.Retry, contract.ReplicateNonRetryableErrorTypes()),
	})
	r.replicateOnceCtx = onceActivity(r.replicateCtx)
	// Histories recorded before LocalStatus existed schedule regular status activities:
	// they replay (and their run goes on) with DefaultVersion, and so without it.
	local := workflow.GetVersion(ctx, localStatusChange, workflow.DefaultVersion, 1) >= 1
	r.localStatus = local && cfg.LocalStatus != nil && *cfg.LocalStatus
	if r.localStatus {
		r.statusCtx = workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
			StartToCloseTimeout: cfg.StatusTimeout,
			// The SDK defaults ScheduleToClose to StartToClose and stops retrying at
			// the first attempt's start + ScheduleToClose: only the retry policy may
			// bound the attempts, as for the regular activity (which has none).
			ScheduleToCloseTimeout: localStatusScheduleToClose,
			RetryPolicy:            retryPolicy(cfg.StatusRetry, contract.SetStatusNonRetryableErrorTypes()),
		})
		r.statusOnceCtx = onceLocalActivity(r.statusCtx)
	} else {
		r.statusCtx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: cfg.StatusTimeout,
			RetryPolicy:         retryPolicy(cfg.StatusRetry, contract.SetStatusNonRetryableErrorTypes()),
		})
		r.statusOnceCtx = onceActivity(r.statusCtx)
	}
	r.journalDedupe = workflow.GetVersion(ctx, journalDedupeChange, workflow.DefaultVersion, 1) >= 1
	if r.durable {
		r.batching = workflow.GetVersion(ctx, batchChange, workflow.DefaultVersion, 1) >= 1
		r.dedupeHeld = workflow.GetVersion(ctx, dedupeHeldChange, workflow.DefaultVersion, 1) >= 1
		if r.batching && workflow.GetVersion(ctx, partialBatchesChange, workflow.DefaultVersion, 1) >= 1 {
			r.partialLimit = max(cfg.PartialBatches, 0)
		}
	}
	if !cfg.DisableSearchAttributes {
		// ContinueAsNew carries the search attributes: only upsert what differs.
		sa := workflow.GetTypedSearchAttributes(ctx)
		part, ok1 := sa.GetInt64(partitionKey)
		topic, ok2 := sa.GetKeyword(topicKey)
		r.saSet = ok1 && ok2 && part == int64(p.Partition) && topic == p.Topic
		r.sa.backlog, _ = sa.GetInt64(backlogKey)
		r.sa.processed, _ = sa.GetInt64(processedKey)
		r.sa.paused, _ = sa.GetBool(pausedKey)
	}
	r.log.Info("partition workflow run started", "topic", r.topic, "partition", r.partition,
		"run", st.Runs, "backlog", len(st.Queue), "nextOffset", st.NextOffset, "paused", st.Paused,
		"durableRetries", r.durable, "waiting", len(r.waiting))
	return r, nil
}

func (r *runner) run(ctx workflow.Context) error {
	for {
		if err := ctx.Err(); err != nil {
			r.log.Warn("partition workflow cancelled: its backlog is dropped; the entries stay PENDING until a backfill",
				"backlog", len(r.st.Queue), "inFlight", len(r.flying), "nextOffset", r.st.NextOffset)
			return err
		}
		due := r.continueAsNewDue(ctx)
		if due && len(r.flying) == 0 {
			// Every signal delivered to this run must be handled by it: drain them all
			// without blocking, then carry the queue.
			r.drainSignals()
			if r.queueBytes <= r.cfg.MaxCarryBytes {
				return r.continueAsNew(ctx)
			}
			due = false // grown past MaxCarryBytes: postponed (continueAsNewDue warns)
		}
		// Once a ContinueAsNew is due, no entry starts: the ones in flight drain, then
		// the run ends (a window kept full would postpone it forever).
		if !due && r.startEntries(ctx) {
			continue // an entry finished at once (skipped): look again
		}
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(r.entriesCh, func(c workflow.ReceiveChannel, _ bool) {
			var sig contract.EntriesSignal
			c.Receive(ctx, &sig)
			r.accept(sig)
		})
		sel.AddReceive(r.pauseCh, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			r.signalsThisRun++
			r.setPaused(true)
		})
		sel.AddReceive(r.resumeCh, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			r.signalsThisRun++
			r.setPaused(false)
		})
		// In offset order: when several are ready, the selector takes the first added.
		// The entries of a batch share its future, added once.
		batches := map[*batchRun]bool{}
		for _, in := range r.flying {
			if b := in.batch; b != nil {
				if !batches[b] {
					batches[b] = true
					sel.AddFuture(b.fut, func(f workflow.Future) { r.onBatchDone(ctx, b, f) })
				}
				continue
			}
			sel.AddFuture(in.fut, func(f workflow.Future) { r.onDone(ctx, in, f) })
		}
		if r.durable && !due {
			if t := r.armTimer(ctx); t != nil {
				sel.AddFuture(t, func(workflow.Future) { r.timer = nil })
			}
		}
		sel.AddReceive(ctx.Done(), func(workflow.ReceiveChannel, bool) {})
		// Upsert only when the loop is about to wait: the completions and signals of one
		// workflow task make one upsert, not one each.
		r.publish(ctx, !sel.HasPending())
		sel.Select(ctx)
	}
}

// startEntries starts queued entries while the window has room and the partition is
// not paused: the first entry, in offset order, that is not in flight and whose object
// has no earlier entry still queued or in flight. It reports whether an entry finished
// at once (skipped), after which the caller looks again (a ContinueAsNew may be due).
func (r *runner) startEntries(ctx workflow.Context) bool {
	if r.batching {
		return r.startBatches(ctx)
	}
	now := workflow.Now(ctx)
	for !r.st.Paused && len(r.flying) < r.cfg.MaxConcurrent {
		i := r.nextStartable(now, nil)
		if i < 0 {
			return false
		}
		if r.start(ctx, i) {
			return true
		}
	}
	return false
}

// nextStartable is the index in the queue of the next entry to start, -1 if none; only
// (when not nil) says which entries may be chosen (the others still hold back the later
// versions of their object). The queue is in arrival order (offset order but after an
// offset reset); the maps only answer membership, so the choice does not depend on map
// iteration order.
func (r *runner) nextStartable(now time.Time, only func(contract.Entry) bool) int {
	earlier := make(map[string]bool, len(r.flying))
	inFlight := make(map[entryID]bool, len(r.flying))
	for _, in := range r.flying {
		inFlight[idOf(in.e)] = true
	}
	for i, e := range r.st.Queue {
		flying := inFlight[idOf(e)]
		k := objectKey(e)
		if earlier[k] {
			continue // an earlier version of this object is queued or in flight
		}
		earlier[k] = true
		if !flying && (only == nil || only(e)) && (!r.durable || r.ready(e, now)) {
			return i
		}
	}
	return -1
}

// entryID identifies an accepted entry: its journal position is unique among those
// accepted by journal position, its offset among those accepted by offset.
type entryID struct {
	journalID string
	seq       uint64
	offset    int64
}

func idOf(e contract.Entry) entryID {
	return entryID{journalID: e.JournalID, seq: e.Seq, offset: e.Offset}
}

// objectKey names the object of an entry: its versions must not run concurrently.
func objectKey(e contract.Entry) string {
	return contract.ObjectKey(e.Record.Bucket, e.Record.Key)
}

// continueAsNewDue tells whether this run should end (once nothing is in flight).
func (r *runner) continueAsNewDue(ctx workflow.Context) bool {
	due := workflow.GetInfo(ctx).GetContinueAsNewSuggested() ||
		r.processedThisRun >= r.cfg.ContinueAsNewAfter ||
		r.signalsThisRun >= r.cfg.MaxSignalsPerRun
	if due && r.queueBytes > r.cfg.MaxCarryBytes {
		if !r.carryWarned {
			r.carryWarned = true
			r.log.Warn("continue-as-new postponed: the backlog is too big to carry; is the bridge keeping it under its high-water mark?",
				"backlogBytes", r.queueBytes, "maxCarryBytes", r.cfg.MaxCarryBytes, "backlog", len(r.st.Queue))
		}
		return false
	}
	return due
}

func (r *runner) drainSignals() {
	for {
		var sig contract.EntriesSignal
		switch {
		case r.entriesCh.ReceiveAsync(&sig):
			r.accept(sig)
		case r.pauseCh.ReceiveAsync(nil):
			r.signalsThisRun++
			r.setPaused(true)
		case r.resumeCh.ReceiveAsync(nil):
			r.signalsThisRun++
			r.setPaused(false)
		default:
			return
		}
	}
}

func (r *runner) continueAsNew(ctx workflow.Context) error {
	r.log.Info("continuing as new", "run", r.st.Runs, "processedThisRun", r.processedThisRun,
		"signalsThisRun", r.signalsThisRun, "backlog", len(r.st.Queue), "backlogBytes", r.queueBytes)
	cfg := r.cfg
	if r.durable {
		// The next run reads the worker's configuration again: carry only Params'.
		cfg = r.carried
		r.saveRetries()
	}
	return workflow.NewContinueAsNewError(ctx, contract.WorkflowName, contract.Params{
		Topic:     r.topic,
		Partition: r.partition,
		Config:    cfg,
		State:     r.st,
	})
}

// accept queues the signal's new entries and drops redeliveries.
func (r *runner) accept(sig contract.EntriesSignal) {
	r.signalsThisRun++
	var dups, misrouted int
	held := r.heldVersions()
	for _, e := range sig.Entries {
		if e.Topic != r.topic || e.Partition != r.partition {
			misrouted++
			r.st.Misrouted++
			r.setError(fmt.Sprintf("dropped an entry of %s/%d (offset %d) sent to the workflow of %s/%d",
				e.Topic, e.Partition, e.Offset, r.topic, r.partition))
			continue
		}
		if r.duplicate(e) {
			dups++
			r.st.Duplicates++
			continue
		}
		if r.dedupeHeld && held.covers(e) {
			dups++
			r.st.Duplicates++
			r.st.NextOffset = e.Offset + 1
			continue
		}
		held.add(e)
		r.st.Queue = append(r.st.Queue, e)
		r.st.NextOffset = e.Offset + 1
		r.queueBytes += entrySize(e)
	}
	if dups > 0 {
		r.log.Info("dropped redelivered entries", "count", dups, "nextOffset", r.st.NextOffset)
	}
	if misrouted > 0 {
		r.log.Error("dropped entries of another partition", "count", misrouted, "lastError", r.st.LastError)
	}
	if len(sig.Entries) > contract.MaxEntriesPerSignal {
		r.log.Warn("entries signal bigger than MaxEntriesPerSignal", "entries", len(sig.Entries), "max", contract.MaxEntriesPerSignal)
	}
}

// duplicate tells whether e was accepted before, and if not, records its journal
// position: by journal position when it has one (and this run dedupes so), else by
// offset.
func (r *runner) duplicate(e contract.Entry) bool {
	if !r.journalDedupe || e.JournalID == "" {
		return e.Offset < r.st.NextOffset
	}
	if last, ok := r.st.JournalSeqs[e.JournalID]; ok && e.Seq <= last {
		return true
	}
	if r.st.JournalSeqs == nil {
		r.st.JournalSeqs = map[string]uint64{}
	}
	r.st.JournalSeqs[e.JournalID] = e.Seq
	return false
}

func (r *runner) setPaused(p bool) {
	if r.st.Paused != p {
		r.log.Info("pause changed", "paused", p, "backlog", len(r.st.Queue))
		r.st.Paused = p
		r.boundary = true
	}
}

// start starts the queued entry at index i: its replication, or (not replicable) its
// FAILED status or its skip. It reports whether the entry finished at once (skipped).
func (r *runner) start(ctx workflow.Context, i int) bool {
	e := r.st.Queue[i]
	rec := &e.Record
	in := r.newInflight(e)
	rs := r.waiting[idOf(e)]
	if rs != nil && rs.Phase == contract.PhaseSetStatus {
		r.startStatus(ctx, in, rs.Status, rs.Reason)
		r.track(in)
		return false
	}
	if !rec.Pending() {
		reason := notReplicable(rec)
		if rec.Replication != nil && rec.Replication.Status == bbproto.StatusPending && rec.VersionID != "" {
			// A PENDING version we cannot replicate must not stay PENDING (BB-826).
			r.setError(entryError(e, reason))
			r.startStatus(ctx, in, bbproto.StatusFailed, reason)
			r.track(in)
			return false
		}
		// Not PENDING (or no version): replicating or marking it would overwrite a
		// status that is not ours to change. Ingest filters these; count and move on.
		r.setError(entryError(e, reason+": skipped"))
		r.log.Warn("skipped an entry that is not replicable", "offset", e.Offset, "reason", reason)
		r.finish(in, &r.st.Skipped)
		return true
	}
	in.ref.Phase = contract.PhaseReplicate
	in.ref.Since = workflow.Now(ctx)
	base := r.replicateCtx
	if rs != nil && rs.Bursts > 0 {
		base = r.replicateOnceCtx // a later burst: a single attempt
	}
	actx := workflow.WithActivityOptions(base, withSummary(workflow.GetActivityOptions(base), in.ref))
	in.fut = workflow.ExecuteActivity(actx, contract.ActivityReplicate, contract.ReplicateInput{Entry: e})
	r.track(in)
	return false
}

// newInflight makes queued entry e an entry in flight (not tracked yet): with durable
// retries, its target, and whether it probes its target's open breaker.
func (r *runner) newInflight(e contract.Entry) *inflight {
	rec := &e.Record
	r.boundary = true
	in := &inflight{e: e, ref: contract.EntryRef{Offset: e.Offset, Op: rec.Op, Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID}}
	if r.durable {
		in.target = r.targetOf(e, r.waiting[idOf(e)])
		if b := r.breakers[in.target]; b != nil && b.Open {
			in.probe = true
			r.probing[in.target] = true
			r.log.Info("probing a target whose breaker is open", "target", in.target, "offset", e.Offset,
				"failedProbes", b.Probes)
		}
	}
	return in
}

// track adds an entry to those in flight, keeping them in queue order.
func (r *runner) track(in *inflight) {
	pos := make(map[entryID]int, len(r.st.Queue))
	for i, e := range r.st.Queue {
		pos[idOf(e)] = i
	}
	i, _ := slices.BinarySearchFunc(r.flying, pos[idOf(in.e)], func(f *inflight, p int) int { return cmp.Compare(pos[idOf(f.e)], p) })
	r.flying = slices.Insert(r.flying, i, in)
}

// startStatus moves an entry to PhaseSetStatus and starts its status write.
func (r *runner) startStatus(ctx workflow.Context, in *inflight, status bbproto.Status, reason string) {
	ref := in.ref
	in.status = contract.SetStatusInput{Bucket: ref.Bucket, Key: ref.Key, VersionID: ref.VersionID, Status: status, Reason: reason}
	ref.Phase = contract.PhaseSetStatus
	ref.Since = workflow.Now(ctx)
	ref.Status = status
	ref.Reason = reason
	in.ref = ref
	base := r.statusCtx
	if r.durable {
		if in.target != contract.TargetSource {
			r.endProbe(in) // the replication phase is over
			in.target = contract.TargetSource
		}
		if rs := r.waiting[idOf(in.e)]; rs != nil && rs.Phase == contract.PhaseSetStatus && rs.Bursts > 0 {
			base = r.statusOnceCtx // a later burst: a single attempt
		}
	}
	if r.localStatus {
		// By name: the worker registers the activity under ActivitySetStatus, and the
		// SDK runs the registered function.
		o := workflow.GetLocalActivityOptions(base)
		o.Summary = summary(ref)
		in.fut = workflow.ExecuteLocalActivity(workflow.WithLocalActivityOptions(base, o), contract.ActivitySetStatus, in.status)
		return
	}
	actx := workflow.WithActivityOptions(base, withSummary(workflow.GetActivityOptions(base), ref))
	in.fut = workflow.ExecuteActivity(actx, contract.ActivitySetStatus, in.status)
}

func withSummary(o workflow.ActivityOptions, ref contract.EntryRef) workflow.ActivityOptions {
	o.Summary = summary(ref)
	return o
}

func summary(ref contract.EntryRef) string {
	s := fmt.Sprintf("%s/%s@%s (offset %d)", ref.Bucket, ref.Key, ref.VersionID, ref.Offset)
	if ref.Status != "" {
		s += " → " + string(ref.Status)
	}
	return s
}

// onDone handles the end of the activity in flight of one entry.
func (r *runner) onDone(ctx workflow.Context, in *inflight, f workflow.Future) {
	e := in.e
	if ctx.Err() != nil {
		return // cancelled: run() returns
	}
	if r.durable {
		r.onDoneDurable(ctx, in, f)
		return
	}
	switch in.ref.Phase {
	case contract.PhaseReplicate:
		var res contract.ReplicateResult
		err := f.Get(ctx, &res)
		if err == nil {
			r.st.Bytes += res.Bytes
			r.startStatus(ctx, in, bbproto.StatusCompleted, "")
			return
		}
		var appErr *temporal.ApplicationError
		if errors.As(err, &appErr) && appErr.Type() == contract.KindSourceGone.ErrorType() {
			r.setError(entryError(e, reason(err, r.cfg.Retry, contract.ReplicateNonRetryableErrorTypes())+": skipped"))
			r.log.Warn("source version gone before replication: skipped", "offset", e.Offset, "error", err)
			r.finish(in, &r.st.Skipped)
			return
		}
		why := reason(err, r.cfg.Retry, contract.ReplicateNonRetryableErrorTypes())
		r.setError(entryError(e, why))
		r.log.Error("replication failed: marking the version FAILED", "offset", e.Offset, "bucket", e.Record.Bucket,
			"key", e.Record.Key, "versionId", e.Record.VersionID, "error", err)
		r.startStatus(ctx, in, bbproto.StatusFailed, why)
	case contract.PhaseSetStatus:
		counter := &r.st.Completed
		if in.status.Status == bbproto.StatusFailed {
			counter = &r.st.Failed
		}
		if err := f.Get(ctx, nil); err != nil {
			r.st.StatusErrors++
			r.setError(entryError(e, "could not set status "+string(in.status.Status)+": "+reason(err, r.cfg.StatusRetry, contract.SetStatusNonRetryableErrorTypes())))
			r.log.Error("status write failed for good", "offset", e.Offset, "status", in.status.Status, "error", err)
		}
		r.finish(in, counter)
	}
}

// finish removes a finished entry from the queue and from those in flight, and counts
// it.
func (r *runner) finish(in *inflight, counter *int64) {
	off, id := in.e.Offset, idOf(in.e)
	if i := slices.IndexFunc(r.st.Queue, func(e contract.Entry) bool { return idOf(e) == id }); i >= 0 {
		r.queueBytes -= entrySize(r.st.Queue[i])
		if i == 0 {
			r.st.Queue[0] = contract.Entry{}
			r.st.Queue = r.st.Queue[1:]
		} else {
			r.st.Queue = slices.Delete(r.st.Queue, i, i+1)
		}
		if len(r.st.Queue) == 0 {
			r.st.Queue = nil // let the backing array go
		}
	} else {
		r.log.Error("finished entry not in the queue", "offset", off) // cannot happen
	}
	r.untrack(in)
	delete(r.waiting, id)
	*counter++
	r.st.Processed++
	r.processedThisRun++
	r.boundary = true
}

func (r *runner) setError(msg string) {
	r.st.LastError = truncate(msg, maxReasonLen)
}

// publish sets the current details and, when upsert is set (the loop is about to
// wait), upserts the search attributes that changed. Backlog changes made by signals
// while entries are in flight wait for the next entry boundary (an entry started or
// finished), and the boundaries of one workflow task make one upsert, so there is at
// most about one upsert per entry.
func (r *runner) publish(ctx workflow.Context, upsert bool) {
	workflow.SetCurrentDetails(ctx, r.details())
	if r.cfg.DisableSearchAttributes || !upsert || (len(r.flying) > 0 && !r.boundary) {
		return
	}
	r.boundary = false
	want := saValues{backlog: int64(len(r.st.Queue)), processed: r.st.Processed, paused: r.st.Paused}
	var ups []temporal.SearchAttributeUpdate
	if !r.saSet {
		ups = append(ups, partitionKey.ValueSet(int64(r.partition)), topicKey.ValueSet(r.topic))
	}
	if !r.saSet || want.backlog != r.sa.backlog {
		ups = append(ups, backlogKey.ValueSet(want.backlog))
	}
	if !r.saSet || want.processed != r.sa.processed {
		ups = append(ups, processedKey.ValueSet(want.processed))
	}
	if !r.saSet || want.paused != r.sa.paused {
		ups = append(ups, pausedKey.ValueSet(want.paused))
	}
	if len(ups) == 0 {
		return
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx, ups...); err != nil {
		r.log.Error("search attribute upsert refused", "error", err)
		return
	}
	r.saSet = true
	r.sa = want
}

// details is the one-line markdown summary shown by the Web UI.
func (r *runner) details() string {
	var b strings.Builder
	fmt.Fprintf(&b, "partition %d of %s · backlog %d · processed %d · failed %d", r.partition, r.topic,
		len(r.st.Queue), r.st.Processed, r.st.Failed)
	if r.st.Paused {
		b.WriteString(" · **paused**")
	}
	r.writeRetryDetails(&b)
	switch n := len(r.flying); {
	case n == 1:
		b.WriteString(" · now: ")
		writeRef(&b, r.flying[0].ref)
	case n > 1:
		fmt.Fprintf(&b, " · now: %d in flight: ", n)
		for i, in := range r.flying[:min(n, detailsMaxInFlight)] {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRef(&b, in.ref)
		}
		if n > detailsMaxInFlight {
			fmt.Fprintf(&b, ", +%d more", n-detailsMaxInFlight)
		}
	}
	return b.String()
}

// writeRef writes "`bucket/key@version` (phase [status] since time)", the name trimmed.
func writeRef(b *strings.Builder, ref contract.EntryRef) {
	name := strings.ReplaceAll(truncate(ref.Bucket+"/"+ref.Key+"@"+ref.VersionID, detailsMaxName), "`", "'")
	fmt.Fprintf(b, "`%s` (%s", name, ref.Phase)
	if ref.Status != "" {
		b.WriteString(" " + string(ref.Status))
	}
	fmt.Fprintf(b, " since %s)", ref.Since.UTC().Format(time.RFC3339))
}

func (r *runner) status() contract.Status {
	s := contract.Status{
		Topic:            r.topic,
		Partition:        r.partition,
		Backlog:          len(r.st.Queue),
		BacklogBytes:     r.queueBytes,
		Counters:         r.st.Counters,
		LastError:        r.st.LastError,
		Paused:           r.st.Paused,
		LastOffset:       r.st.NextOffset - 1,
		Run:              r.st.Runs,
		RunID:            r.runID,
		ProcessedThisRun: r.processedThisRun,
		SignalsThisRun:   r.signalsThisRun,
	}
	for _, in := range r.flying {
		s.InFlight = append(s.InFlight, in.ref)
	}
	if len(s.InFlight) > 0 {
		cur := s.InFlight[0] // the oldest
		s.Current = &cur
	}
	if r.durable {
		r.retryStatus(&s)
	}
	return s
}

// entrySize is the JSON size of an entry, as the default data converter encodes it.
func entrySize(e contract.Entry) int {
	b, err := json.Marshal(e)
	if err != nil {
		return 0
	}
	return len(b)
}

func notReplicable(rec *bbproto.Record) string {
	status := "none"
	if rec.Replication != nil {
		status = string(rec.Replication.Status)
	}
	return fmt.Sprintf("not replicable: op %q with replication status %s", rec.Op, status)
}

func entryError(e contract.Entry, msg string) string {
	return fmt.Sprintf("offset %d %s/%s@%s: %s", e.Offset, e.Record.Bucket, e.Record.Key, e.Record.VersionID, msg)
}

// reason makes a FAILED reason of an activity's final error: the application error's
// type (when it is one of ours) and message, and why retrying stopped. Retries end only
// for a non-retryable error or after the last attempt (no ScheduleToClose timeout is
// set), so that is computed here rather than read from the error's retry state, which
// the test environment does not fill.
func reason(err error, rc contract.RetryConfig, nonRetryable []string) string {
	msg, retryable := errMessage(err, nonRetryable)
	if msg == "cancelled" {
		return msg
	}
	switch {
	case !retryable:
		msg += " (not retried)"
	case rc.MaximumAttempts() > 0:
		msg += fmt.Sprintf(" (gave up after %d attempts)", rc.MaximumAttempts())
	}
	return truncate(msg, maxReasonLen)
}

// errMessage is the message of an activity's final error (the application error's type,
// when it is one of ours, and message) and whether the error is retryable: not listed in
// nonRetryable, not flagged non-retryable, not a cancellation.
func errMessage(err error, nonRetryable []string) (msg string, retryable bool) {
	retryable = true
	var appErr *temporal.ApplicationError
	var toErr *temporal.TimeoutError
	var canErr *temporal.CanceledError
	switch {
	case errors.As(err, &appErr):
		msg = appErr.Message()
		if t := appErr.Type(); slices.Contains(contract.ReplicateNonRetryableErrorTypes(), t) {
			msg = t + ": " + msg
		}
		retryable = !appErr.NonRetryable() && !slices.Contains(nonRetryable, appErr.Type())
	case errors.As(err, &toErr):
		msg = "timed out (" + toErr.TimeoutType().String() + ")"
	case errors.As(err, &canErr):
		return "cancelled", false
	default:
		msg = err.Error()
		if cause := errors.Unwrap(err); cause != nil {
			msg = cause.Error() // without the ActivityError's event IDs
		}
	}
	return msg, retryable
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

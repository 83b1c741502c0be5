package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

// Batches (runs begun after batchChange, with durable retries).
//
// The window (Config.MaxConcurrent) counts activities in flight, a batch as one. When it
// has room, the next startable entry (as without batches: in queue order, never a later
// version of an object before an earlier one finished) starts a batch, which takes the
// following startable entries up to Config.BatchMaxEntries entries and
// Config.BatchMaxBytes bytes of objects. A batch holds at most one version of an
// object: a later version waits for the earlier one's batch to finish, so FIFO per
// object holds across batches. Entries that are not batched run alone as before: status
// writes (an entry whose status write waits for a retry, or that is not replicable) and
// large objects (Config.LargeObjectSize and up: ActivityReplicate's resumable multipart
// copy). One ActivityReplicateBatch replicates the batch and writes the statuses in
// bulk; its per-entry outcomes are applied when it ends:
//   - done / failed with the status written: the entry leaves the queue (the status was
//     written before it does);
//   - done / failed without the status written (the bulk write failed): the entry goes
//     on to its status write alone (ActivitySetStatus, durable);
//   - gone (source version deleted): skipped, as without batches;
//   - retry: the entry waits in the durable retry state (backoff, budget, its target's
//     breaker) and joins a later batch when due; each batch is one attempt of it.
// A batch activity that fails as a whole (after its retry policy) sends every entry to
// the retry state. History grows by one activity per batch, not per entry.
//
// Dedupe of held versions (runs begun after dedupeHeldChange): an arriving entry whose
// version is already held in the queue, not in flight (queued or waiting to retry), is
// dropped and counted as a duplicate: the held entry reads the source version when it
// runs, so nothing is lost. It covers the new entry when both name the same bucket, key,
// version id, destination and site, and the held entry copies at least as much: a
// metadata-only entry (op "metadata") covers only another one. The sweeper's re-drives
// (op "status") of versions waiting in durable retry are so absorbed. An entry in flight
// absorbs nothing: the version may have changed after it was read.

// batchChange is the workflow.GetVersion change ID of batches: version 1 replicates by
// ActivityReplicateBatch (see above); DefaultVersion (a run whose history began before)
// one ActivityReplicate per entry.
const batchChange = "batch"

// partialBatchesChange is the workflow.GetVersion change ID of Config.PartialBatches:
// version 1 holds a partial batch while that many partial batches are in flight (see
// startBatches); DefaultVersion starts every batch the window has room for.
const partialBatchesChange = "partial-batches"

// dedupeHeldChange is the workflow.GetVersion change ID of the dedupe of held versions:
// version 1 drops an entry whose version is held; DefaultVersion keeps it.
const dedupeHeldChange = "dedupe-held"

// batchRun is a batch in flight.
type batchRun struct {
	fut     workflow.Future
	members []*inflight // in the batch's order (the activity's input order)
	// partial: fewer than Config.BatchMaxEntries entries and under half
	// Config.BatchMaxBytes (Config.PartialBatches).
	partial bool
}

// slots is the number of activities in flight: the entries running alone and the
// batches.
func (r *runner) slots() int {
	n := r.batchesInFlight
	for _, in := range r.flying {
		if in.batch == nil {
			n++
		}
	}
	return n
}

// batchable tells whether queued entry e may go in a batch: a replication (not a
// status write) of an object below Config.LargeObjectSize.
func (r *runner) batchable(e contract.Entry) bool {
	if !e.Record.Pending() || e.Record.Size >= r.cfg.LargeObjectSize {
		return false
	}
	rs := r.waiting[idOf(e)]
	return rs == nil || rs.Phase == contract.PhaseReplicate
}

// startBatches starts entries while the window has room: batches, and the entries
// that run alone. It reports whether an entry finished at once (see startEntries).
//
// With a bound on partial batches (runs begun after partialBatchesChange), when that
// many partial batches are in flight the batchable entries wait unless they fill a
// batch: they go together when one of those finishes. The entries that run alone still
// start.
func (r *runner) startBatches(ctx workflow.Context) bool {
	now := workflow.Now(ctx)
	for !r.st.Paused && r.slots() < r.cfg.MaxConcurrent {
		i := r.nextStartable(now, nil)
		if i < 0 {
			return false
		}
		if r.batchable(r.st.Queue[i]) && r.holdPartial(now) {
			i = r.nextStartable(now, func(e contract.Entry) bool { return !r.batchable(e) })
			if i < 0 {
				return false
			}
		}
		if !r.batchable(r.st.Queue[i]) {
			if r.start(ctx, i) {
				return true
			}
			continue
		}
		r.startBatch(ctx, i)
	}
	return false
}

// holdPartial tells whether a new batch must wait: as many partial batches as
// Config.PartialBatches are in flight and the startable batchable entries do not fill
// a batch.
func (r *runner) holdPartial(now time.Time) bool {
	if r.partialLimit <= 0 || r.partialInFlight < r.partialLimit {
		return false
	}
	n, bytes := 0, int64(0)
	full := func() bool { return n >= r.cfg.BatchMaxEntries || bytes >= r.cfg.BatchMaxBytes/2 }
	r.nextStartable(now, func(e contract.Entry) bool {
		if r.batchable(e) && (!r.durable || r.ready(e, now)) {
			n++
			bytes += max(e.Record.Size, 0)
		}
		return full() // stops the scan
	})
	return !full()
}

// startBatch starts a batch with queued entry i and the startable batchable entries
// that follow it, within the batch bounds.
func (r *runner) startBatch(ctx workflow.Context, i int) {
	now := workflow.Now(ctx)
	b := &batchRun{}
	var bytes int64
	add := func(i int) {
		e := r.st.Queue[i]
		in := r.newInflight(e)
		in.batch, in.once = b, true
		in.ref.Phase = contract.PhaseReplicate
		in.ref.Since = now
		b.members = append(b.members, in)
		bytes += max(e.Record.Size, 0)
		r.track(in) // in flight: its object's later versions are not startable
	}
	add(i)
	fits := func(e contract.Entry) bool {
		return r.batchable(e) && bytes+max(e.Record.Size, 0) <= r.cfg.BatchMaxBytes
	}
	for len(b.members) < r.cfg.BatchMaxEntries {
		j := r.nextStartable(now, fits)
		if j < 0 {
			break
		}
		add(j)
	}
	b.partial = len(b.members) < r.cfg.BatchMaxEntries && bytes < r.cfg.BatchMaxBytes/2
	if b.partial {
		r.partialInFlight++
	}
	in := contract.ReplicateBatchInput{Entries: make([]contract.Entry, len(b.members)), Parallelism: r.cfg.BatchParallelism}
	for k, m := range b.members {
		in.Entries[k] = m.e
	}
	o := workflow.GetActivityOptions(r.replicateCtx)
	o.Summary = batchSummary(b)
	b.fut = workflow.ExecuteActivity(workflow.WithActivityOptions(r.replicateCtx, o), contract.ActivityReplicateBatch, in)
	r.batchesInFlight++
}

// batchSummary names a batch in the Web UI: its size and first entry.
func batchSummary(b *batchRun) string {
	s := fmt.Sprintf("batch of %d: %s", len(b.members), summary(b.members[0].ref))
	if len(b.members) > 1 {
		s += fmt.Sprintf(" … %s", summary(b.members[len(b.members)-1].ref))
	}
	return s
}

// onBatchDone applies the outcomes of a finished batch.
func (r *runner) onBatchDone(ctx workflow.Context, b *batchRun, f workflow.Future) {
	if ctx.Err() != nil {
		return // cancelled: run() returns
	}
	r.batchesInFlight--
	if b.partial {
		r.partialInFlight--
	}
	r.boundary = true
	var res contract.ReplicateBatchResult
	err := f.Get(ctx, &res)
	if err == nil && len(res.Outcomes) != len(b.members) {
		err = fmt.Errorf("the batch answered %d outcomes for %d entries: is every worker of the task queue up to date?", len(res.Outcomes), len(b.members))
	}
	var msg string
	if err != nil {
		msg, _ = errMessage(err, contract.ReplicateNonRetryableErrorTypes())
		r.log.Warn("batch failed as a whole: its entries retry later", "entries", len(b.members), "error", err)
	}
	for k, in := range b.members {
		in.batch = nil
		if err != nil {
			r.retryLater(ctx, in, "batch: "+msg)
			continue
		}
		r.applyOutcome(ctx, in, res.Outcomes[k])
	}
}

// applyOutcome applies the outcome of one batched entry.
func (r *runner) applyOutcome(ctx workflow.Context, in *inflight, o contract.EntryOutcome) {
	e := in.e
	switch o.Outcome {
	case contract.OutcomeDone, contract.OutcomeFailed:
		r.breakerOK(ctx, in.target) // the target answered
		delete(r.waiting, idOf(e))
		r.st.Bytes += o.Bytes
		status, counter, why := bbproto.StatusCompleted, &r.st.Completed, ""
		if o.Outcome == contract.OutcomeFailed {
			status, counter, why = bbproto.StatusFailed, &r.st.Failed, truncate(o.Reason, maxReasonLen)
			r.setError(entryError(e, why))
			r.log.Error("replication failed: version marked FAILED", "offset", e.Offset, "bucket", e.Record.Bucket,
				"key", e.Record.Key, "versionId", e.Record.VersionID, "error", o.Error)
		}
		if o.StatusWritten {
			r.endProbe(in)
			r.finish(in, counter)
			return
		}
		r.log.Warn("bulk status write failed: writing it alone", "offset", e.Offset, "status", status, "error", o.StatusError)
		r.startStatus(ctx, in, status, why)
	case contract.OutcomeGone:
		// The source answered, not the target: the breaker learns nothing.
		r.endProbe(in)
		r.setError(entryError(e, truncate(o.Error, maxReasonLen)+" (not retried): skipped"))
		r.log.Warn("source version gone before replication: skipped", "offset", e.Offset, "error", o.Error)
		r.finish(in, &r.st.Skipped)
	default: // OutcomeRetry
		msg := o.Error
		if o.Outcome != contract.OutcomeRetry {
			msg = fmt.Sprintf("unknown batch outcome %q: %s", o.Outcome, o.Error)
		}
		r.retryLater(ctx, in, truncate(msg, maxReasonLen))
	}
}

// versionRef names a version and where its replication goes (dedupe of held versions).
type versionRef struct {
	bucket, key, versionID, destination, site string
}

func versionOf(e contract.Entry) versionRef {
	v := versionRef{bucket: e.Record.Bucket, key: e.Record.Key, versionID: e.Record.VersionID}
	if rp := e.Record.Replication; rp != nil {
		v.destination, v.site = rp.Destination, rp.Site
	}
	return v
}

// heldSet indexes the held entries (queued, not in flight) by version: for each, whether
// one of them copies data (not metadata-only).
type heldSet map[versionRef]bool

// heldVersions indexes the held entries of the queue (nil when this run does not
// dedupe them).
func (r *runner) heldVersions() heldSet {
	if !r.dedupeHeld {
		return nil
	}
	flying := make(map[entryID]bool, len(r.flying))
	for _, in := range r.flying {
		flying[idOf(in.e)] = true
	}
	h := heldSet{}
	for _, e := range r.st.Queue {
		rs := r.waiting[idOf(e)]
		if !flying[idOf(e)] && e.Record.Pending() && (rs == nil || rs.Phase == contract.PhaseReplicate) {
			h.add(e) // its replication has not started: it reads the source when it does
		}
	}
	return h
}

// add records queued entry e as held.
func (h heldSet) add(e contract.Entry) {
	if h == nil || e.Record.VersionID == "" {
		return
	}
	v := versionOf(e)
	h[v] = h[v] || e.Record.Op != bbproto.OpMetadata
}

// covers tells whether a held entry does all that e would.
func (h heldSet) covers(e contract.Entry) bool {
	if e.Record.VersionID == "" {
		return false
	}
	data, ok := h[versionOf(e)]
	return ok && (data || e.Record.Op == bbproto.OpMetadata)
}

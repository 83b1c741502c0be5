package activities

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/contract"
)

// batchProgress is the heartbeat details of ReplicateBatch: the outcomes so far, by
// entry index ("" for an entry not finished). A retried attempt keeps them: its
// finished entries are not replicated again, only their missing status is written.
type batchProgress struct {
	Outcomes []contract.EntryOutcome
}

// ReplicateBatch is the activity contract.ActivityReplicateBatch: it replicates the
// batch's entries, at most in.Parallelism at once, heartbeating each finished entry's
// outcome (a retry resumes: finished entries are not redone), then writes the statuses
// of the finished ones in bulk (COMPLETED, or FAILED with the reason) and answers one
// outcome per entry. Entries are replicated as ReplicateVersion does (a multipart
// source is copied by its own parts, so the replica keeps its ETag), without its
// multipart resume: large objects are not batched, and a retried attempt sends a
// smaller multipart object's parts again. It fails as a whole only when the
// attempt is interrupted (cancelled, stalled): Temporal retries it and the next attempt
// resumes.
func (a *Activities) ReplicateBatch(ctx context.Context, in contract.ReplicateBatchInput) (contract.ReplicateBatchResult, error) {
	n := len(in.Entries)
	hb := &batchBeats{ctx: ctx, p: batchProgress{Outcomes: make([]contract.EntryOutcome, n)}}
	if activity.HasHeartbeatDetails(ctx) {
		var p batchProgress
		if err := activity.GetHeartbeatDetails(ctx, &p); err != nil || len(p.Outcomes) != n {
			a.log.Warn("unusable heartbeat details: starting the batch over", "entries", n, "error", err)
		} else {
			hb.p = p
		}
	}
	stall := activity.GetInfo(ctx).HeartbeatTimeout
	if a.stallTimeout > 0 {
		stall = a.stallTimeout
	}
	ctx, stop := withStallGuard(ctx, stall)
	defer stop()
	hb.ctx = ctx
	par := in.Parallelism
	if par <= 0 {
		par = contract.DefaultBatchParallelism
	}
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i, e := range in.Entries {
		if hb.outcome(i).Outcome != "" {
			continue // done by an earlier attempt
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			o, ok := a.replicateOne(ctx, e.Record, hb)
			if ok {
				hb.set(i, o)
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
			err = cause
		}
		return contract.ReplicateBatchResult{}, toApplicationError(newError(contract.KindRetryable, "batch interrupted: the next attempt resumes it", err), false)
	}
	a.writeStatuses(ctx, in.Entries, hb)
	return contract.ReplicateBatchResult{Outcomes: hb.snapshot()}, nil
}

// replicateOne replicates one entry of a batch; ok is false when the attempt was
// interrupted (the entry's outcome is then unknown and it is redone by the next).
func (a *Activities) replicateOne(ctx context.Context, rec bbproto.Record, hb *batchBeats) (contract.EntryOutcome, bool) {
	res, err := a.r.Replicate(ctx, rec, hb)
	if err == nil {
		if a.metrics != nil {
			a.metrics.Replicated(res.Site, res.Action, res.Bytes)
		}
		return contract.EntryOutcome{Outcome: contract.OutcomeDone, Bytes: res.Bytes, Status: bbproto.StatusCompleted}, true
	}
	if ctx.Err() != nil {
		return contract.EntryOutcome{}, false
	}
	kind := KindOf(err)
	if a.metrics != nil {
		a.metrics.ReplicationFailed(res.Site, kind, res.Bytes)
	}
	o := contract.EntryOutcome{Kind: kind, Error: err.Error(), Bytes: res.Bytes}
	switch kind {
	case contract.KindRetryable:
		o.Outcome = contract.OutcomeRetry
	case contract.KindSourceGone:
		o.Outcome = contract.OutcomeGone
	default:
		o.Outcome = contract.OutcomeFailed
		o.Status = bbproto.StatusFailed
		o.Reason = FailedReason(kind, err.Error())
	}
	return o, true
}

// FailedReason is the FAILED reason of a fail-fast error, as the workflow words it for
// an entry replicated alone: "<Kind>: <message> (not retried)".
func FailedReason(kind contract.ErrorKind, msg string) string {
	return kind.ErrorType() + ": " + msg + " (not retried)"
}

// writeStatuses writes in bulk the statuses of the finished entries not written yet,
// and records in their outcomes whether it worked.
func (a *Activities) writeStatuses(ctx context.Context, entries []contract.Entry, hb *batchBeats) {
	outs := hb.snapshot()
	var updates []StatusUpdate
	var idx []int
	for i, o := range outs {
		if o.Status != "" && !o.StatusWritten {
			rec := entries[i].Record
			updates = append(updates, StatusUpdate{Bucket: rec.Bucket, Key: rec.Key, VersionID: rec.VersionID, Status: o.Status, Reason: o.Reason})
			idx = append(idx, i)
		}
	}
	if len(updates) == 0 {
		return
	}
	res, err := a.r.SetStatuses(ctx, updates)
	for j, i := range idx {
		o := outs[i]
		switch {
		case err != nil:
			o.StatusError = err.Error()
		case res[j].Err != nil:
			o.StatusError = res[j].Err.Error()
			if KindOf(res[j].Err) == contract.KindSourceGone {
				// Nothing left to mark: the version went away meanwhile.
				o.Outcome, o.Status, o.Kind, o.Error = contract.OutcomeGone, "", contract.KindSourceGone, res[j].Err.Error()
			}
		default:
			o.StatusWritten = true
			if a.metrics != nil {
				a.metrics.StatusSet(o.Status, time.Since(changeTime(entries[i].Record, res[j].LastModified)))
			}
		}
		hb.set(i, o)
	}
	if err != nil {
		a.log.Warn("bulk status write failed: the workflow writes them one by one", "statuses", len(updates), "error", err)
	}
}

// changeTime is the time of the journaled change of rec (the put→status latency's
// start), else the version's last-modified time.
func changeTime(rec bbproto.Record, lastModified time.Time) time.Time {
	switch {
	case !rec.Time.IsZero():
		return rec.Time
	case !rec.LastModified.IsZero():
		return rec.LastModified
	}
	return lastModified
}

// batchBeats holds a batch's outcomes and heartbeats them; it is also the Progress of
// each entry's copy (which only says that data moves: batched entries do not resume a
// multipart upload).
type batchBeats struct {
	ctx context.Context
	mu  sync.Mutex
	p   batchProgress
}

func (h *batchBeats) outcome(i int) contract.EntryOutcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.p.Outcomes[i]
}

func (h *batchBeats) snapshot() []contract.EntryOutcome {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]contract.EntryOutcome(nil), h.p.Outcomes...)
}

// set records entry i's outcome and heartbeats them all.
func (h *batchBeats) set(i int, o contract.EntryOutcome) {
	h.mu.Lock()
	h.p.Outcomes[i] = o
	details := batchProgress{Outcomes: append([]contract.EntryOutcome(nil), h.p.Outcomes...)}
	h.mu.Unlock()
	touchStall(h.ctx)
	activity.RecordHeartbeat(h.ctx, details)
}

// Resume implements Progress: nothing to resume.
func (h *batchBeats) Resume() *Checkpoint { return nil }

// Save implements Progress: a part finished.
func (h *batchBeats) Save(Checkpoint) { h.alive() }

// Alive implements Progress: data moves.
func (h *batchBeats) Alive(int64) { h.alive() }

func (h *batchBeats) alive() {
	touchStall(h.ctx)
	h.mu.Lock()
	details := batchProgress{Outcomes: append([]contract.EntryOutcome(nil), h.p.Outcomes...)}
	h.mu.Unlock()
	activity.RecordHeartbeat(h.ctx, details)
}

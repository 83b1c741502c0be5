package workflows

import (
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

// Durable retries (runs begun after durableRetryChange).
//
// A phase (replication, status write) first runs as one activity with its Temporal
// retry policy (Config.Retry, Config.StatusRetry): a short burst. When the burst fails
// retryably, the entry leaves the window and waits in State.Retries until Next, the same
// backoff continued (the delay that follows the burst's last attempt, capped at
// MaximumInterval); then it runs again, one attempt per activity. Meanwhile the window
// starts other objects' entries (only the later versions of the same object wait). A
// replication is retried until Config.RetryBudget has passed since its first failure,
// then the version is marked FAILED; a status write is retried without end.
//
// One timer serves every waiting entry: the run keeps a single timer for the earliest
// wake-up (entries due within retrySlack of it start together), so history grows by one
// timer per retry period, not per entry and attempt.
//
// Each target (TargetSitePrefix+the rule's site; TargetSource for status writes) has a
// circuit breaker: after Config.BreakerThreshold consecutive failed bursts it opens; its
// entries then wait (their budget counting from the first hold) while one probe entry at
// a time runs on the backoff schedule. The first success or non-retryable answer closes
// it and every entry waiting on it is due at once. Probes rotate among the waiting
// entries (a failed probe's own next attempt comes after the next probe). When a probe fails and the budget has
// passed for entries held by the breaker, they are marked FAILED.

// retries is the runner's durable retry state.
type retries struct {
	// waiting is the retry state of queued entries (State.Retries while the run lasts).
	waiting map[entryID]*contract.RetryState
	// breakers by target (State.Breakers while the run lasts); probing: targets whose
	// probe is in flight.
	breakers map[string]*contract.Breaker
	probing  map[string]bool
	// timer is the pending retry timer, firing at timerAt; nil when none.
	timer   workflow.Future
	timerAt time.Time
	// slack: entries due within it are started together.
	slack time.Duration
}

// maxRetrySlack bounds retries.slack.
const maxRetrySlack = time.Second

// workerConfigTimeout bounds the local activity that reads the worker's configuration.
const workerConfigTimeout = 10 * time.Second

// workerConfig reads the worker's configuration for partition workflows (the local
// activity ActivityWorkflowConfig). When it cannot, the run goes on with the one carried
// in Params, with a warning.
func workerConfig(ctx workflow.Context, logger log.Logger) contract.Config {
	lctx := workflow.WithLocalActivityOptions(ctx, workflow.LocalActivityOptions{
		StartToCloseTimeout:    workerConfigTimeout,
		ScheduleToCloseTimeout: 3 * workerConfigTimeout,
		RetryPolicy:            &temporal.RetryPolicy{InitialInterval: time.Second, MaximumAttempts: 3},
	})
	var wc contract.Config
	if err := workflow.ExecuteLocalActivity(lctx, contract.ActivityWorkflowConfig).Get(ctx, &wc); err != nil {
		logger.Warn("worker configuration unavailable: this run uses the configuration carried by the workflow; is "+
			contract.ActivityWorkflowConfig+" registered by the worker?", "error", err)
		return contract.Config{}
	}
	return wc
}

// durableConfig adjusts a configuration with its defaults for durable retries: a burst
// that never ends would keep the entry out of the retry budget and, for local status
// writes, grow the history with every attempt.
func durableConfig(c contract.Config) contract.Config {
	if c.Retry.MaxRetries == contract.RetryForever {
		c.Retry.MaxRetries = contract.DefaultRetry().MaxRetries
	}
	if c.StatusRetry.MaxRetries == contract.RetryForever {
		c.StatusRetry.MaxRetries = contract.DefaultStatusRetry().MaxRetries
	}
	return c
}

// onceActivity is ctx's activity options with a single attempt.
func onceActivity(ctx workflow.Context) workflow.Context {
	o := workflow.GetActivityOptions(ctx)
	rp := *o.RetryPolicy
	rp.MaximumAttempts = 1
	o.RetryPolicy = &rp
	return workflow.WithActivityOptions(ctx, o)
}

// onceLocalActivity is ctx's local activity options with a single attempt.
func onceLocalActivity(ctx workflow.Context) workflow.Context {
	o := workflow.GetLocalActivityOptions(ctx)
	rp := *o.RetryPolicy
	rp.MaximumAttempts = 1
	o.RetryPolicy = &rp
	return workflow.WithLocalActivityOptions(ctx, o)
}

// loadRetries takes the retry state carried in st.
func (r *runner) loadRetries(st *contract.State, cfg contract.Config) {
	r.waiting = map[entryID]*contract.RetryState{}
	r.breakers = map[string]*contract.Breaker{}
	r.probing = map[string]bool{}
	r.slack = min(maxRetrySlack, cfg.Retry.InitialInterval, cfg.StatusRetry.InitialInterval)
	queued := make(map[entryID]bool, len(st.Queue))
	for _, e := range st.Queue {
		queued[idOf(e)] = true
	}
	for i := range st.Retries {
		rs := st.Retries[i]
		id := entryID{journalID: rs.JournalID, seq: rs.Seq, offset: rs.Offset}
		if queued[id] {
			r.waiting[id] = &rs
		}
	}
	for i := range st.Breakers {
		b := st.Breakers[i]
		r.breakers[b.Target] = &b
	}
	st.Retries, st.Breakers = nil, nil
}

// saveRetries writes the retry state into r.st, to be carried across ContinueAsNew.
func (r *runner) saveRetries() {
	r.st.Retries = r.waitingInOrder(-1)
	r.st.Breakers = r.breakerList(false)
}

// waitingInOrder lists the waiting entries in queue order, at most n (n < 0: all).
func (r *runner) waitingInOrder(n int) []contract.RetryState {
	var out []contract.RetryState
	for _, e := range r.st.Queue {
		if n >= 0 && len(out) >= n {
			break
		}
		if rs := r.waiting[idOf(e)]; rs != nil {
			out = append(out, *rs)
		}
	}
	return out
}

// breakerList lists the breakers by target (only the open ones if openOnly).
func (r *runner) breakerList(openOnly bool) []contract.Breaker {
	var out []contract.Breaker
	for _, b := range r.breakers {
		if !openOnly || b.Open {
			out = append(out, *b)
		}
	}
	slices.SortFunc(out, func(a, b contract.Breaker) int { return strings.Compare(a.Target, b.Target) })
	return out
}

// targetOf is the breaker target of the next phase of queued entry e.
func (r *runner) targetOf(e contract.Entry, rs *contract.RetryState) string {
	switch {
	case rs != nil:
		return rs.Target
	case !e.Record.Pending():
		return contract.TargetSource // not replicable: only a status write
	}
	return siteTarget(e)
}

func siteTarget(e contract.Entry) string {
	if e.Record.Replication == nil {
		return contract.TargetSitePrefix
	}
	return contract.TargetSitePrefix + e.Record.Replication.Site
}

// ready tells whether queued entry e may start now: its wait is over and its target's
// breaker is closed, or open with no probe in flight and the probe due (e becomes the
// probe). An entry held back by an open breaker gets a retry state, from which its
// budget counts.
func (r *runner) ready(e contract.Entry, now time.Time) bool {
	id := idOf(e)
	rs := r.waiting[id]
	if rs != nil && rs.Next.After(now.Add(r.slack)) {
		return false
	}
	target := r.targetOf(e, rs)
	b := r.breakers[target]
	if b == nil || !b.Open {
		return true
	}
	if !r.probing[target] && !b.NextProbe.After(now.Add(r.slack)) {
		return true
	}
	if rs == nil && e.Record.Pending() {
		r.waiting[id] = &contract.RetryState{Offset: e.Offset, JournalID: e.JournalID, Seq: e.Seq,
			Bucket: e.Record.Bucket, Key: e.Record.Key, VersionID: e.Record.VersionID,
			Phase: contract.PhaseReplicate, Target: target, Since: now, Next: now,
			LastError: "held back: the breaker of " + target + " is open"}
	}
	return false
}

// armTimer returns the retry timer, started for the earliest wake-up (an entry's Next
// or an open breaker's NextProbe) unless one that fires no later is pending; nil when
// nothing waits on time.
func (r *runner) armTimer(ctx workflow.Context) workflow.Future {
	now := workflow.Now(ctx)
	var wake time.Time
	later := func(t time.Time) {
		if t.After(now.Add(r.slack)) && (wake.IsZero() || t.Before(wake)) {
			wake = t
		}
	}
	for _, rs := range r.waiting {
		if b := r.breakers[rs.Target]; b == nil || !b.Open {
			later(rs.Next)
		}
	}
	for target, b := range r.breakers {
		if b.Open && !r.probing[target] {
			later(b.NextProbe)
		}
	}
	if !wake.IsZero() && (r.timer == nil || wake.Before(r.timerAt)) {
		// A timer superseded by an earlier one still fires, and only wakes the loop.
		r.timer = workflow.NewTimer(ctx, wake.Sub(now))
		r.timerAt = wake
	}
	return r.timer
}

// endProbe marks the end of in's probe, if it was one.
func (r *runner) endProbe(in *inflight) {
	if in.probe {
		in.probe = false
		delete(r.probing, in.target)
	}
}

// onDoneDurable handles the end of an entry's activity with durable retries.
func (r *runner) onDoneDurable(ctx workflow.Context, in *inflight, f workflow.Future) {
	e := in.e
	switch in.ref.Phase {
	case contract.PhaseReplicate:
		var res contract.ReplicateResult
		err := f.Get(ctx, &res)
		if err == nil {
			r.breakerOK(ctx, in.target)
			delete(r.waiting, idOf(e))
			r.st.Bytes += res.Bytes
			r.startStatus(ctx, in, bbproto.StatusCompleted, "")
			return
		}
		nonRetryable := contract.ReplicateNonRetryableErrorTypes()
		msg, retryable := errMessage(err, nonRetryable)
		if isKind(err, contract.KindSourceGone) {
			// The source answered, not the target: the breaker learns nothing.
			r.endProbe(in)
			r.setError(entryError(e, msg+" (not retried): skipped"))
			r.log.Warn("source version gone before replication: skipped", "offset", e.Offset, "error", err)
			r.finish(in, &r.st.Skipped)
			return
		}
		if retryable {
			r.retryLater(ctx, in, msg)
			return
		}
		r.breakerOK(ctx, in.target) // the target answered
		delete(r.waiting, idOf(e))
		why := truncate(msg+" (not retried)", maxReasonLen)
		r.setError(entryError(e, why))
		r.log.Error("replication failed: marking the version FAILED", "offset", e.Offset, "bucket", e.Record.Bucket,
			"key", e.Record.Key, "versionId", e.Record.VersionID, "error", err)
		r.startStatus(ctx, in, bbproto.StatusFailed, why)
	case contract.PhaseSetStatus:
		counter := &r.st.Completed
		if in.status.Status == bbproto.StatusFailed {
			counter = &r.st.Failed
		}
		err := f.Get(ctx, nil)
		if err == nil {
			r.breakerOK(ctx, in.target)
			r.finish(in, counter)
			return
		}
		msg, retryable := errMessage(err, contract.SetStatusNonRetryableErrorTypes())
		if retryable {
			r.retryLater(ctx, in, msg)
			return
		}
		r.endProbe(in)
		r.st.StatusErrors++
		r.setError(entryError(e, "could not set status "+string(in.status.Status)+": "+truncate(msg+" (not retried)", maxReasonLen)))
		r.log.Error("status write failed for good", "offset", e.Offset, "status", in.status.Status, "error", err)
		r.finish(in, counter)
	}
}

// retryLater handles a failed burst of in's phase: the entry leaves the window and waits
// for its next burst, or (replication past its budget) is marked FAILED.
func (r *runner) retryLater(ctx workflow.Context, in *inflight, msg string) {
	e := in.e
	now := workflow.Now(ctx)
	id := idOf(e)
	phase := in.ref.Phase
	rs := r.waiting[id]
	if rs == nil || rs.Phase != phase {
		rs = &contract.RetryState{Offset: e.Offset, JournalID: e.JournalID, Seq: e.Seq,
			Bucket: e.Record.Bucket, Key: e.Record.Key, VersionID: e.Record.VersionID,
			Phase: phase, Target: in.target, Since: now}
		if phase == contract.PhaseSetStatus {
			rs.Status, rs.Reason = in.status.Status, in.status.Reason
		}
		r.waiting[id] = rs
	}
	rc := r.cfg.Retry
	if phase == contract.PhaseSetStatus {
		rc = r.cfg.StatusRetry
	}
	rs.Bursts++
	rs.LastError = truncate(msg, maxReasonLen)
	attempts := attemptsMade(rc, rs.Bursts)
	if in.once {
		attempts = rs.Bursts
	}
	r.breakerFail(ctx, in, rc, rs.LastError)
	if phase == contract.PhaseReplicate && now.Sub(rs.Since) >= r.cfg.RetryBudget {
		delete(r.waiting, id)
		why := truncate(fmt.Sprintf("%s (gave up after %d attempts over %s)", msg, attempts, now.Sub(rs.Since).Round(time.Second)), maxReasonLen)
		r.setError(entryError(e, why))
		r.log.Error("replication retry budget spent: marking the version FAILED", "offset", e.Offset, "bucket", e.Record.Bucket,
			"key", e.Record.Key, "versionId", e.Record.VersionID, "attempts", attempts, "budget", r.cfg.RetryBudget)
		r.startStatus(ctx, in, bbproto.StatusFailed, why)
		return
	}
	rs.Next = now.Add(rc.Delay(attempts))
	if b := r.breakers[rs.Target]; b != nil && b.Open && !rs.Next.After(b.NextProbe.Add(r.slack)) {
		// Probes rotate: another waiting entry of the target probes next, so that one
		// entry failing for its own reasons cannot keep the breaker open.
		rs.Next = b.NextProbe.Add(2 * r.slack)
	}
	if phase == contract.PhaseSetStatus {
		r.st.StatusRetried++
	} else {
		r.st.Retried++
	}
	r.setError(entryError(e, fmt.Sprintf("%s (%s: attempt %d failed, next at %s)", msg, phase, attempts, rs.Next.UTC().Format(time.RFC3339))))
	r.log.Warn("retrying later", "phase", phase, "offset", e.Offset, "bucket", e.Record.Bucket, "key", e.Record.Key,
		"versionId", e.Record.VersionID, "attempts", attempts, "next", rs.Next, "target", rs.Target, "error", msg)
	r.untrack(in)
	r.boundary = true
}

// attemptsMade is the number of attempts after n failed bursts: the first burst's
// attempts, then one per burst.
func attemptsMade(rc contract.RetryConfig, bursts int) int {
	return int(max(rc.MaximumAttempts(), 1)) + bursts - 1
}

// untrack removes an entry from those in flight (it stays queued).
func (r *runner) untrack(in *inflight) {
	if i := slices.Index(r.flying, in); i >= 0 {
		r.flying = slices.Delete(r.flying, i, i+1)
	}
}

// breakerFail counts a failed burst against in's target: the breaker opens at the
// threshold; a failed probe pushes the next one back and marks FAILED the entries held
// past their budget.
func (r *runner) breakerFail(ctx workflow.Context, in *inflight, rc contract.RetryConfig, msg string) {
	probe := in.probe
	r.endProbe(in)
	if r.cfg.BreakerThreshold < 0 {
		return
	}
	now := workflow.Now(ctx)
	b := r.breakers[in.target]
	if b == nil {
		b = &contract.Breaker{Target: in.target}
		r.breakers[in.target] = b
	}
	b.Failures++
	b.LastError = msg
	switch {
	case b.Open && probe:
		b.Probes++
		b.NextProbe = now.Add(rc.Delay(attemptsMade(rc, b.Probes+1)))
		r.failHeldPastBudget(now, b)
	case !b.Open && b.Failures >= r.cfg.BreakerThreshold:
		b.Open = true
		b.OpenedAt = now
		b.Probes = 0
		b.NextProbe = now.Add(rc.Delay(attemptsMade(rc, 1)))
		r.st.BreakerOpened++
		r.log.Warn("target breaker opened: its entries wait for a probe to succeed", "target", b.Target,
			"failures", b.Failures, "nextProbe", b.NextProbe, "error", msg)
	}
}

// failHeldPastBudget turns the replications waiting on open breaker b past their
// budget into FAILED status writes.
func (r *runner) failHeldPastBudget(now time.Time, b *contract.Breaker) {
	for _, e := range r.st.Queue { // queue order: deterministic logs
		rs := r.waiting[idOf(e)]
		if rs == nil || rs.Target != b.Target || rs.Phase != contract.PhaseReplicate || now.Sub(rs.Since) < r.cfg.RetryBudget {
			continue
		}
		why := truncate(fmt.Sprintf("%s (gave up: target %s unreachable for %s)", b.LastError, b.Target, now.Sub(rs.Since).Round(time.Second)), maxReasonLen)
		r.log.Error("replication retry budget spent while the target's breaker was open: marking the version FAILED",
			"offset", e.Offset, "target", b.Target, "budget", r.cfg.RetryBudget)
		r.setError(entryError(e, why))
		*rs = contract.RetryState{Offset: rs.Offset, JournalID: rs.JournalID, Seq: rs.Seq, Bucket: rs.Bucket, Key: rs.Key,
			VersionID: rs.VersionID, Phase: contract.PhaseSetStatus, Status: bbproto.StatusFailed, Reason: why,
			Target: contract.TargetSource, Since: now, Next: now}
	}
}

// breakerOK records that target answered: its breaker closes and the entries waiting
// on it are due at once.
func (r *runner) breakerOK(ctx workflow.Context, target string) {
	b := r.breakers[target]
	if b == nil {
		return
	}
	delete(r.breakers, target)
	if !b.Open {
		return
	}
	now := workflow.Now(ctx)
	n := 0
	for _, rs := range r.waiting {
		if rs.Target == target {
			rs.Next = now
			n++
		}
	}
	r.log.Info("target breaker closed: its waiting entries start again", "target", target, "openedAt", b.OpenedAt,
		"failedProbes", b.Probes, "waiting", n)
}

// isKind tells whether err is an application error of kind k.
func isKind(err error, k contract.ErrorKind) bool {
	var appErr *temporal.ApplicationError
	return errors.As(err, &appErr) && appErr.Type() == k.ErrorType()
}

// retryStatus fills the durable retry part of a Status.
func (r *runner) retryStatus(s *contract.Status) {
	s.Waiting = r.waitingInOrder(contract.MaxStatusWaiting)
	s.WaitingCount = len(r.waiting)
	s.Breakers = r.breakerList(true)
	cfg := r.cfg
	s.Config = &cfg
}

// writeRetryDetails adds the waiting entries and open breakers to the details line.
func (r *runner) writeRetryDetails(b *strings.Builder) {
	if len(r.waiting) > 0 {
		fmt.Fprintf(b, " · waiting to retry %d", len(r.waiting))
	}
	for _, br := range r.breakerList(true) {
		fmt.Fprintf(b, " · **breaker open** `%s` since %s", strings.ReplaceAll(truncate(br.Target, detailsMaxName), "`", "'"),
			br.OpenedAt.UTC().Format(time.RFC3339))
	}
}

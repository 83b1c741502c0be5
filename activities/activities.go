package activities

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/worker"

	"github.com/backbeat-temporal/backbeat/contract"
)

// Metrics receives the activities' measurements; the worker implements it (Prometheus).
// Implementations must be safe for concurrent use.
type Metrics interface {
	// Replicated counts a successful ReplicateVersion: the site, the Result's Action and
	// the data bytes written.
	Replicated(site, action string, bytes int64)
	// ReplicationFailed counts a failed ReplicateVersion attempt: the site ("" when the
	// entry could not be resolved to one), the kind (contract.KindRetryable is "") and the data
	// bytes the attempt streamed before it failed.
	ReplicationFailed(site string, kind contract.ErrorKind, bytes int64)
	// StatusSet counts a status written on a source version (COMPLETED, FAILED...).
	// latency is the time from the journaled change (the put, or the metadata change) to
	// now; it is the put→COMPLETED latency when status is COMPLETED.
	StatusSet(status bbproto.Status, latency time.Duration)
}

// MaxHeartbeatParts is the most finished parts listed in a heartbeat's Checkpoint
// (about 70 bytes each; Temporal warns about payloads above 512 KB).
const MaxHeartbeatParts = 2000

// maxRemembered bounds the change times kept between ReplicateVersion and
// SetReplicationStatus (for the latency metric).
const maxRemembered = 10000

// Activities are the Temporal activities of the partition workflow (names and payloads
// in package contract), around a Replicator.
// Register them with Register.
type Activities struct {
	r       *Replicator
	metrics Metrics
	log     *slog.Logger

	mu      sync.Mutex
	changed map[string]time.Time // bucket/key/versionId → time of the journaled change

	// stallTimeout replaces the activity's HeartbeatTimeout as the stall limit (tests).
	stallTimeout time.Duration
}

// NewActivities wraps r. metrics may be nil; log nil means slog.Default().
func NewActivities(r *Replicator, metrics Metrics, log *slog.Logger) *Activities {
	if log == nil {
		log = slog.Default()
	}
	return &Activities{r: r, metrics: metrics, log: log, changed: map[string]time.Time{}}
}

// Register registers the activities under contract.ActivityReplicate,
// contract.ActivityReplicateBatch and contract.ActivitySetStatus.
func (a *Activities) Register(reg worker.ActivityRegistry) {
	reg.RegisterActivityWithOptions(a.ReplicateVersion, activity.RegisterOptions{Name: contract.ActivityReplicate})
	reg.RegisterActivityWithOptions(a.ReplicateBatch, activity.RegisterOptions{Name: contract.ActivityReplicateBatch})
	reg.RegisterActivityWithOptions(a.SetReplicationStatus, activity.RegisterOptions{Name: contract.ActivitySetStatus})
}

// ReplicateVersion is the activity contract.ActivityReplicate: it replicates the
// entry's version, heartbeating a Checkpoint after each finished part and while data
// streams (so that the workflow's HeartbeatTimeout catches a stuck copy), and resumes
// the multipart upload of the previous attempt's last heartbeat. Errors are
// temporal.ApplicationErrors whose types are those of workflows (fail-fast ones are
// non-retryable), or contract.ErrTypeRetryable.
func (a *Activities) ReplicateVersion(ctx context.Context, in contract.ReplicateInput) (contract.ReplicateResult, error) {
	rec := in.Entry.Record
	stall := activity.GetInfo(ctx).HeartbeatTimeout
	if a.stallTimeout > 0 {
		stall = a.stallTimeout
	}
	ctx, stop := withStallGuard(ctx, stall)
	defer stop()
	p := &heartbeats{ctx: ctx}
	if activity.HasHeartbeatDetails(ctx) {
		var cp Checkpoint
		if err := activity.GetHeartbeatDetails(ctx, &cp); err != nil {
			a.log.Warn("unreadable heartbeat details: starting over", "error", err)
		} else {
			p.resume = &cp
		}
	}
	res, err := a.r.Replicate(ctx, rec, p)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, errStalled) {
			err = newError(contract.KindRetryable, cause.Error(), err)
		}
		if a.metrics != nil {
			a.metrics.ReplicationFailed(res.Site, KindOf(err), res.Bytes)
		}
		return contract.ReplicateResult{}, toApplicationError(err, true)
	}
	t := rec.Time
	if t.IsZero() {
		t = rec.LastModified
	}
	a.remember(rec.Bucket+"/"+rec.Key+"/"+rec.VersionID, t)
	if a.metrics != nil {
		a.metrics.Replicated(res.Site, res.Action, res.Bytes)
	}
	return contract.ReplicateResult{
		Bytes:          res.Bytes,
		AlreadyPresent: res.Action == ActionAlreadyPresent,
		MetadataOnly:   res.Action == ActionMetadata,
	}, nil
}

// SetReplicationStatus is the activity contract.ActivitySetStatus: it writes the
// status (and the reason of a FAILED one) on the source version. Its errors are
// retryable application errors typed as in workflows: the workflow's retry policy
// decides (access denied is retried, a missing version is not).
func (a *Activities) SetReplicationStatus(ctx context.Context, in contract.SetStatusInput) error {
	lm, err := a.r.SetStatus(ctx, in.Bucket, in.Key, in.VersionID, in.Status, in.Reason)
	if err != nil {
		return toApplicationError(err, false)
	}
	changed, ok := a.forget(in.Bucket + "/" + in.Key + "/" + in.VersionID)
	if !ok {
		changed = lm // replicated by another worker: the version's own time
	}
	if a.metrics != nil {
		a.metrics.StatusSet(in.Status, time.Since(changed))
	}
	return nil
}

func (a *Activities) remember(k string, t time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.changed) >= maxRemembered {
		for old := range a.changed { // drop any one: the metric falls back to the version's time
			delete(a.changed, old)
			break
		}
	}
	a.changed[k] = t
}

func (a *Activities) forget(k string) (time.Time, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	t, ok := a.changed[k]
	delete(a.changed, k)
	return t, ok
}

// toApplicationError makes err a Temporal application error carrying its reason.
// failFast marks the non-retryable kinds non-retryable on the error itself; otherwise
// only the type tells, and the caller's retry policy decides.
func toApplicationError(err error, failFast bool) error {
	var e *Error
	if !errors.As(err, &e) {
		return temporal.NewApplicationError(err.Error(), contract.ErrTypeRetryable)
	}
	typ := e.Kind.ErrorType()
	if failFast && !e.Retryable() {
		return temporal.NewNonRetryableApplicationError(e.Error(), typ, nil)
	}
	return temporal.NewApplicationError(e.Error(), typ)
}

// heartbeats is the Progress of an activity attempt: Temporal heartbeats.
type heartbeats struct {
	ctx    context.Context
	resume *Checkpoint

	mu    sync.Mutex
	last  Checkpoint
	bytes int64
}

func (h *heartbeats) Resume() *Checkpoint { return h.resume }

// errStalled is the cause of an attempt cancelled by withStallGuard.
var errStalled = errors.New("the copy made no progress")

// stallGuard cancels an attempt that makes no progress for its limit.
type stallGuard struct {
	last atomic.Int64 // unix nanos of the last progress
}

// stallKey carries the stallGuard of an attempt in its context.
type stallKey struct{}

// withStallGuard returns a context cancelled (cause errStalled) when touch is not called
// for limit: Temporal fails an attempt that does not heartbeat within the
// HeartbeatTimeout and retries it, and this stops the stuck attempt instead of letting
// it hold its connection until the StartToClose deadline. limit <= 0 disables it.
func withStallGuard(ctx context.Context, limit time.Duration) (context.Context, func()) {
	if limit <= 0 {
		return ctx, func() {}
	}
	g := &stallGuard{}
	g.touch()
	ctx, cancel := context.WithCancelCause(context.WithValue(ctx, stallKey{}, g))
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(max(limit/4, time.Millisecond))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case now := <-t.C:
				if idle := now.Sub(time.Unix(0, g.last.Load())); idle > limit {
					cancel(fmt.Errorf("%w for %s (the heartbeat timeout): attempt stopped, the next one resumes", errStalled, idle.Round(time.Millisecond)))
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

func (g *stallGuard) touch() { g.last.Store(time.Now().UnixNano()) }

// touchStall records progress on the stallGuard of ctx, if any.
func touchStall(ctx context.Context) {
	if g, ok := ctx.Value(stallKey{}).(*stallGuard); ok {
		g.touch()
	}
}

func (h *heartbeats) Save(cp Checkpoint) {
	h.mu.Lock()
	h.last = cp
	h.last.Parts = nil
	if len(cp.Parts) <= MaxHeartbeatParts {
		h.last.Parts = append([]PartDone(nil), cp.Parts...)
	}
	h.last.Bytes = h.bytes
	details := h.last
	h.mu.Unlock()
	touchStall(h.ctx)
	activity.RecordHeartbeat(h.ctx, details)
}

func (h *heartbeats) Alive(bytes int64) {
	h.mu.Lock()
	h.bytes = bytes
	h.last.Bytes = bytes
	details := h.last
	h.mu.Unlock()
	touchStall(h.ctx)
	activity.RecordHeartbeat(h.ctx, details)
}

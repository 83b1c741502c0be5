package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/backbeat-temporal/backbeat/journal/record"
)

// Names shared with the bridge, the worker and the activities. Changing one is a breaking
// change for running workflows.
const (
	// TaskQueue is the task queue of the partition workflows and of their activities.
	TaskQueue = "backbeat-replication"
	// WorkflowName is the registered workflow type of PartitionWorkflow.
	WorkflowName = "BackbeatPartition"
	// WorkflowIDPrefix starts every partition workflow's ID (see WorkflowID).
	WorkflowIDPrefix = "backbeat-replication"

	// SignalEntries carries an EntriesSignal (Kafka messages of the workflow's partition).
	SignalEntries = "entries"
	// SignalPause stops the workflow from starting entries (no payload; any payload is
	// ignored). The entries in flight finish.
	SignalPause = "pause"
	// SignalResume undoes SignalPause (no payload).
	SignalResume = "resume"

	// QueryStatus answers a Status.
	QueryStatus = "status"

	// ActivityReplicate is the registered name of the activity that copies one entry's
	// version (data and/or metadata, or a delete marker) to the target:
	// func(context.Context, ReplicateInput) (ReplicateResult, error).
	ActivityReplicate = "ReplicateVersion"
	// ActivitySetStatus is the registered name of the activity that writes a source
	// version's replication status: func(context.Context, SetStatusInput) error.
	ActivitySetStatus = "SetReplicationStatus"
)

// Back-pressure and payload bounds of the bridge's contract. The workflow never drops
// or trims an accepted entry: keeping the backlog (and so the carried State and the
// ContinueAsNew payload, limited by Temporal to 2 MB) small is the bridge's job.
const (
	// DefaultHighWater is the backlog (Status.Backlog) at or above which the bridge stops
	// sending a partition's entries until the backlog falls below it again.
	DefaultHighWater = 500
	// DefaultHighWaterBytes is the same bound on Status.BacklogBytes (the JSON size of the
	// queued entries); the bridge pauses on whichever is reached first.
	DefaultHighWaterBytes = 512 << 10
	// MaxEntriesPerSignal is the most entries the bridge puts in one EntriesSignal
	// (a journal record is at most ~8 KB of JSON, so a signal stays below 1 MB). A bigger
	// signal is still accepted whole, with a warning in the workflow log.
	MaxEntriesPerSignal = 100
)

// WorkflowID is the ID of the workflow that replicates one Kafka partition:
// "backbeat-replication/<topic>/<partition>".
func WorkflowID(topic string, partition int32) string {
	return fmt.Sprintf("%s/%s/%d", WorkflowIDPrefix, topic, partition)
}

// Application error types. Activities return temporal.NewApplicationError(msg, type) (or
// the NonRetryable variant) with one of these types; the fail-fast ones are listed in the
// activities' retry policies, so the workflow stops retrying at once.
const (
	// ErrTypeNonRetryable is a generic fail-fast error.
	ErrTypeNonRetryable = "NonRetryable"
	// ErrTypeAccessDenied: the source or target refused the replication identity.
	ErrTypeAccessDenied = "AccessDenied"
	// ErrTypeInvalidConfig: the bucket's replication configuration cannot be applied
	// (unknown destination, bad role, versioning disabled on the target...).
	ErrTypeInvalidConfig = "InvalidConfig"
	// ErrTypeNoSuchBucket: the source or target bucket does not exist.
	ErrTypeNoSuchBucket = "NoSuchBucket"
	// ErrTypeNoSuchVersion: the source version no longer exists (deleted before it was
	// replicated). The workflow counts the entry as skipped and sets no status: there is
	// no version left that could stay PENDING.
	ErrTypeNoSuchVersion = "NoSuchVersion"
	// ErrTypeInvalidEntry: the entry's record cannot be replicated (missing fields,
	// unknown op...).
	ErrTypeInvalidEntry = "InvalidEntry"
)

// ReplicateNonRetryableErrorTypes are the NonRetryableErrorTypes of ActivityReplicate.
func ReplicateNonRetryableErrorTypes() []string {
	return []string{ErrTypeNonRetryable, ErrTypeAccessDenied, ErrTypeInvalidConfig,
		ErrTypeNoSuchBucket, ErrTypeNoSuchVersion, ErrTypeInvalidEntry}
}

// SetStatusNonRetryableErrorTypes are the NonRetryableErrorTypes of ActivitySetStatus:
// only errors saying that there is no version to mark. Everything else (access denied
// included: an operator can fix it) is retried forever by default, since a version must
// never stay PENDING.
func SetStatusNonRetryableErrorTypes() []string {
	return []string{ErrTypeNonRetryable, ErrTypeNoSuchBucket, ErrTypeNoSuchVersion}
}

// Entry is one Kafka message of the replication topic: a journal record whose
// replication status is PENDING, at its offset in its partition.
type Entry struct {
	// Topic and Partition the message was read from; they must be the workflow's.
	Topic     string
	Partition int32
	// Offset of the message in its partition.
	Offset int64
	// Record is the message's value, a journal record.
	Record record.Record
}

// EntriesSignal is the payload of SignalEntries: contiguous entries of one partition,
// offsets ascending, at most MaxEntriesPerSignal of them. Redelivered entries (offset
// below the next expected one) are dropped by the workflow, so the bridge may re-send
// after a rebalance or a crash.
type EntriesSignal struct {
	Entries []Entry
}

// ReplicateInput is the input of ActivityReplicate. The attempt number is
// activity.GetInfo(ctx).Attempt; the retries are Temporal's (Config.Retry), so heartbeat
// details recorded by one attempt (e.g. finished multipart parts) reach the next.
type ReplicateInput struct {
	Entry Entry
}

// ReplicateResult is the result of ActivityReplicate.
type ReplicateResult struct {
	// Bytes of object data written to the target (0 for delete markers, metadata-only
	// entries and versions already present).
	Bytes int64
	// AlreadyPresent: the target already held this version; nothing was written.
	AlreadyPresent bool
	// MetadataOnly: only tags / user metadata were updated on the target.
	MetadataOnly bool
}

// SetStatusInput is the input of ActivitySetStatus.
type SetStatusInput struct {
	Bucket, Key, VersionID string
	// Status is record.StatusCompleted or record.StatusFailed.
	Status string
	// Reason says why a FAILED version failed (empty for COMPLETED).
	Reason string
}

// Params is the input of PartitionWorkflow, also used for ContinueAsNew.
type Params struct {
	// Topic and Partition the workflow replicates. Required.
	Topic     string
	Partition int32
	// Config is carried across ContinueAsNew; zero fields take their defaults.
	Config Config
	// State is nil on the first run and carried across ContinueAsNew.
	State *State
}

// Config tunes a partition workflow. Zero fields take the defaults listed (see
// DefaultConfig, Config.WithDefaults).
type Config struct {
	// Retry is the retry policy of ActivityReplicate. Default: DefaultRetry()
	// (Backbeat's: 1 s, ×1.5, at most 300 s, 5 retries).
	Retry RetryConfig
	// StatusRetry is the retry policy of ActivitySetStatus. Default: DefaultStatusRetry()
	// (1 s, ×2, at most 60 s, retried forever: a version must not stay PENDING because a
	// status write failed; the partition waits instead).
	StatusRetry RetryConfig
	// ActivityTimeout is the StartToCloseTimeout of one ActivityReplicate attempt.
	// Default 1 h (large objects go by parts, heartbeating).
	ActivityTimeout time.Duration
	// HeartbeatTimeout of ActivityReplicate: an attempt that does not heartbeat for that
	// long is failed and retried. Default 60 s; negative disables heartbeat timeouts.
	HeartbeatTimeout time.Duration
	// StatusTimeout is the StartToCloseTimeout of one ActivitySetStatus attempt.
	// Default 30 s.
	StatusTimeout time.Duration
	// LocalStatus runs ActivitySetStatus as a local activity (by its registered name, in
	// the worker that runs the workflow task, with the same timeout and retry policy):
	// no activity task to dispatch and no workflow task to wake the workflow up, which
	// saves two of the ~5 task dispatches per entry. false runs it as a regular activity.
	// nil (the zero value) means true; WithDefaults sets it. Runs started before this
	// option existed keep the regular activity (see localStatusChange).
	LocalStatus *bool `json:",omitempty"`
	// ContinueAsNewAfter is the number of entries one run processes before it continues
	// as new (also done earlier when Temporal suggests it). Default 1000. Setting it to 1
	// is the way to exercise ContinueAsNew on a real server.
	ContinueAsNewAfter int
	// MaxSignalsPerRun is the number of signals one run accepts before it continues as
	// new (Temporal refuses signals past 10 000 per run). Default 5000.
	MaxSignalsPerRun int
	// MaxCarryBytes bounds the JSON size of the queue carried across ContinueAsNew
	// (Temporal refuses payloads over 2 MB). While the backlog is bigger, ContinueAsNew
	// is postponed until it has shrunk. Default 1 MiB.
	MaxCarryBytes int
	// MaxConcurrent is the most entries in flight at once. Entries start in offset
	// order, skipping any whose object (bucket and key) has an earlier entry still
	// queued or in flight, so the versions of one object are replicated one after
	// another in offset order while different objects overlap. 1 replicates the
	// entries strictly one after another. Default 8.
	MaxConcurrent int
	// DisableSearchAttributes stops the search attribute upserts, for namespaces where
	// the attributes of SearchAttributes() are not registered (an upsert of an unknown
	// attribute fails every workflow task). Default false.
	DisableSearchAttributes bool
}

// RetryConfig is an exponential backoff retry policy.
type RetryConfig struct {
	// InitialInterval is the delay before the first retry. Default 1 s.
	InitialInterval time.Duration
	// BackoffCoefficient multiplies the delay after each retry. Default 1.5 (2 for
	// DefaultStatusRetry); values below 1 take the default.
	BackoffCoefficient float64
	// MaximumInterval caps the delay. Default 300 s (60 s for DefaultStatusRetry).
	MaximumInterval time.Duration
	// MaxRetries is the number of retries after the first attempt (5 → at most 6
	// attempts). 0 takes the default (5); NoRetries means a single attempt;
	// RetryForever means no limit.
	MaxRetries int
}

// Special values of RetryConfig.MaxRetries.
const (
	NoRetries    = -1
	RetryForever = -2
)

// Defaults of Config (see the field comments).
const (
	DefaultActivityTimeout    = time.Hour
	DefaultHeartbeatTimeout   = 60 * time.Second
	DefaultStatusTimeout      = 30 * time.Second
	DefaultContinueAsNewAfter = 1000
	DefaultMaxSignalsPerRun   = 5000
	DefaultMaxCarryBytes      = 1 << 20
	DefaultMaxConcurrent      = 8
	DefaultLocalStatus        = true
)

// DefaultRetry is the default policy of ActivityReplicate, Backbeat's: 1 s, ×1.5,
// capped at 300 s, 5 retries.
func DefaultRetry() RetryConfig {
	return RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 1.5, MaximumInterval: 300 * time.Second, MaxRetries: 5}
}

// DefaultStatusRetry is the default policy of ActivitySetStatus: 1 s, ×2, capped at
// 60 s, retried forever.
func DefaultStatusRetry() RetryConfig {
	return RetryConfig{InitialInterval: time.Second, BackoffCoefficient: 2, MaximumInterval: 60 * time.Second, MaxRetries: RetryForever}
}

// DefaultConfig returns the default Config.
func DefaultConfig() Config { return Config{}.WithDefaults() }

// WithDefaults returns c with its zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	c.Retry = c.Retry.withDefaults(DefaultRetry())
	c.StatusRetry = c.StatusRetry.withDefaults(DefaultStatusRetry())
	if c.ActivityTimeout <= 0 {
		c.ActivityTimeout = DefaultActivityTimeout
	}
	if c.HeartbeatTimeout == 0 {
		c.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if c.StatusTimeout <= 0 {
		c.StatusTimeout = DefaultStatusTimeout
	}
	if c.LocalStatus == nil {
		on := DefaultLocalStatus
		c.LocalStatus = &on
	}
	if c.ContinueAsNewAfter <= 0 {
		c.ContinueAsNewAfter = DefaultContinueAsNewAfter
	}
	if c.MaxSignalsPerRun <= 0 {
		c.MaxSignalsPerRun = DefaultMaxSignalsPerRun
	}
	if c.MaxCarryBytes <= 0 {
		c.MaxCarryBytes = DefaultMaxCarryBytes
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	return c
}

func (r RetryConfig) withDefaults(d RetryConfig) RetryConfig {
	if r.InitialInterval <= 0 {
		r.InitialInterval = d.InitialInterval
	}
	if r.BackoffCoefficient < 1 {
		r.BackoffCoefficient = d.BackoffCoefficient
	}
	if r.MaximumInterval <= 0 {
		r.MaximumInterval = d.MaximumInterval
	}
	if r.MaximumInterval < r.InitialInterval {
		r.MaximumInterval = r.InitialInterval
	}
	if r.MaxRetries == 0 {
		r.MaxRetries = d.MaxRetries
	}
	return r
}

// MaximumAttempts is the Temporal MaximumAttempts of the policy (0: unlimited).
func (r RetryConfig) MaximumAttempts() int32 {
	switch {
	case r.MaxRetries == RetryForever:
		return 0
	case r.MaxRetries < 0:
		return 1
	}
	return int32(r.MaxRetries) + 1
}

// Policy is the Temporal retry policy of r with the given non-retryable error types.
func (r RetryConfig) Policy(nonRetryable []string) *temporal.RetryPolicy {
	return &temporal.RetryPolicy{
		InitialInterval:        r.InitialInterval,
		BackoffCoefficient:     r.BackoffCoefficient,
		MaximumInterval:        r.MaximumInterval,
		MaximumAttempts:        r.MaximumAttempts(),
		NonRetryableErrorTypes: nonRetryable,
	}
}

// State is everything a partition workflow knows, carried across ContinueAsNew. The
// zero State is a new partition.
type State struct {
	// Queue holds the accepted entries not finished yet, in offset order, the entries
	// in flight included (a run ends only when none is in flight, so a carried queue
	// has none).
	Queue []Entry
	// NextOffset is one past the highest accepted offset: entries below it are
	// redeliveries and are dropped.
	NextOffset int64
	// Paused is set by SignalPause, cleared by SignalResume.
	Paused bool
	// Counters since the partition's first run.
	Counters
	// LastError is the last failure seen (replication, status write, rejected entry).
	LastError string
	// Runs counts the runs so far, this one included.
	Runs int
}

// Counters count entries since a partition workflow's first run.
type Counters struct {
	// Processed = Completed + Failed + Skipped.
	Processed int64
	// Completed: replicated and marked COMPLETED.
	Completed int64
	// Failed: marked FAILED (replication gave up, or the entry is not replicable).
	Failed int64
	// Skipped: finished without a status write (the source version is gone, or the
	// record was not PENDING).
	Skipped int64
	// Duplicates: redelivered entries dropped (offset below State.NextOffset).
	Duplicates int64
	// Misrouted: entries of another topic or partition, dropped (a bridge bug).
	Misrouted int64
	// StatusErrors: status writes that failed for good (non-retryable); counted besides
	// the entry's Completed/Failed.
	StatusErrors int64
	// Bytes of object data written to targets.
	Bytes int64
}

// Phases of an entry in flight (EntryRef.Phase).
const (
	PhaseReplicate = "replicate"
	PhaseSetStatus = "set-status"
)

// EntryRef names an entry in flight (Status.Current, Status.InFlight).
type EntryRef struct {
	// Offset of the entry in its partition.
	Offset int64
	// Op, Bucket, Key, VersionID of its journal record.
	Op, Bucket, Key, VersionID string
	// Phase is PhaseReplicate or PhaseSetStatus.
	Phase string
	// Since is the workflow time at which the phase began.
	Since time.Time
	// Status being written, in PhaseSetStatus.
	Status string `json:",omitempty"`
	// Reason of a FAILED status being written.
	Reason string `json:",omitempty"`
}

// Status is the answer to QueryStatus.
type Status struct {
	Topic     string
	Partition int32
	// Backlog is the number of accepted entries not finished, the ones in flight
	// included. The bridge compares it with its high-water mark (DefaultHighWater).
	Backlog int
	// BacklogBytes is the JSON size of those entries (see DefaultHighWaterBytes).
	BacklogBytes int
	// Current is the oldest entry in flight (lowest offset), nil when none is.
	Current *EntryRef
	// InFlight are the entries in flight, in offset order (at most
	// Config.MaxConcurrent).
	InFlight []EntryRef `json:",omitempty"`
	Counters
	LastError string
	Paused    bool
	// LastOffset is the highest accepted offset, -1 before the first entry.
	LastOffset int64
	// Run is the run number (1, then +1 at each ContinueAsNew); RunID is this run's.
	Run   int
	RunID string
	// ProcessedThisRun and SignalsThisRun count towards ContinueAsNew
	// (Config.ContinueAsNewAfter, Config.MaxSignalsPerRun).
	ProcessedThisRun, SignalsThisRun int
}

// Search attributes, upserted by the workflow. The namespace must have them:
// `temporal server start-dev --search-attribute BackbeatPartition=Int
// --search-attribute BackbeatTopic=Keyword --search-attribute BackbeatBacklog=Int
// --search-attribute BackbeatPaused=Bool --search-attribute BackbeatProcessed=Int`
// (see SearchAttributes), or Config.DisableSearchAttributes must be set.
const (
	SearchAttrPartition = "BackbeatPartition"
	SearchAttrTopic     = "BackbeatTopic"
	SearchAttrBacklog   = "BackbeatBacklog"
	SearchAttrPaused    = "BackbeatPaused"
	SearchAttrProcessed = "BackbeatProcessed"
)

// Typed keys of the search attributes.
var (
	PartitionKey = temporal.NewSearchAttributeKeyInt64(SearchAttrPartition)
	TopicKey     = temporal.NewSearchAttributeKeyKeyword(SearchAttrTopic)
	BacklogKey   = temporal.NewSearchAttributeKeyInt64(SearchAttrBacklog)
	PausedKey    = temporal.NewSearchAttributeKeyBool(SearchAttrPaused)
	ProcessedKey = temporal.NewSearchAttributeKeyInt64(SearchAttrProcessed)
)

// SearchAttributes returns the search attributes the workflow upserts, name → type as
// `temporal server start-dev --search-attribute NAME=TYPE` and
// `temporal operator search-attribute create` spell it.
func SearchAttributes() map[string]string {
	return map[string]string{
		SearchAttrPartition: "Int",
		SearchAttrTopic:     "Keyword",
		SearchAttrBacklog:   "Int",
		SearchAttrPaused:    "Bool",
		SearchAttrProcessed: "Int",
	}
}

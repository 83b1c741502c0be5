package contract

import (
	"time"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// State is everything a partition workflow knows, carried across ContinueAsNew. The
// zero State is a new partition.
type State struct {
	// Queue holds the accepted entries not finished yet, in offset order, the entries
	// in flight included (a run ends only when none is in flight, so a carried queue
	// has none).
	Queue []Entry
	// NextOffset is one past the offset of the last accepted entry: entries without a
	// journal position below it are redeliveries and are dropped.
	NextOffset int64
	// JournalSeqs is the highest accepted Entry.Seq of each Entry.JournalID: an entry
	// at or below it is a redelivery and is dropped (one key per source journal).
	JournalSeqs map[string]uint64 `json:",omitempty"`
	// Paused is set by SignalPause, cleared by SignalResume.
	Paused bool
	// Counters since the partition's first run.
	Counters
	// LastError is the last failure seen (replication, status write, rejected entry).
	LastError string
	// Runs counts the runs so far, this one included.
	Runs int
	// Retries are the queued entries waiting for their next attempt (durable retries),
	// in queue order.
	Retries []RetryState `json:",omitempty"`
	// Breakers are the circuit breakers of the targets that failed lately, by Target.
	Breakers []Breaker `json:",omitempty"`
}

// Breaker targets that are not a replication site.
const (
	// TargetSource is the breaker target of status writes (the source endpoint).
	TargetSource = "source"
	// TargetSitePrefix starts the breaker target of a replication: "site:<name>"
	// ("site:" alone for the default site).
	TargetSitePrefix = "site:"
)

// RetryState is the retry state of one queued entry (State.Retries, Status.Waiting).
type RetryState struct {
	// Offset, JournalID and Seq identify the entry in State.Queue.
	Offset    int64
	JournalID string `json:",omitempty"`
	Seq       uint64 `json:",omitempty"`
	// Bucket, Key and VersionID of its journal record.
	Bucket, Key, VersionID string
	// Phase is what is retried: PhaseReplicate or PhaseSetStatus.
	Phase string
	// Status and Reason being written, in PhaseSetStatus.
	Status bbproto.Status `json:",omitempty"`
	Reason string         `json:",omitempty"`
	// Target is the breaker target of the phase (TargetSitePrefix+site, or
	// TargetSource).
	Target string
	// Bursts is the number of failed bursts of the phase (each up to
	// Config.Retry.MaximumAttempts() attempts); 0 while only held by an open breaker.
	Bursts int
	// Since is the workflow time of the first failure (or of the first hold by the
	// breaker): Config.RetryBudget counts from it.
	Since time.Time
	// Next is the workflow time from which the next burst may start.
	Next time.Time
	// LastError is the last failure of the phase.
	LastError string `json:",omitempty"`
}

// Breaker is the circuit breaker of one target (State.Breakers, Status.Breakers).
type Breaker struct {
	// Target is TargetSitePrefix+site or TargetSource.
	Target string
	// Failures counts the consecutive failed bursts of entries of the target.
	Failures int
	// Open: the target's entries wait; one probe entry at a time tries, at NextProbe.
	Open bool
	// OpenedAt is the workflow time the breaker opened.
	OpenedAt time.Time `json:",omitzero"`
	// Probes counts the failed probes since it opened.
	Probes int `json:",omitempty"`
	// NextProbe is the workflow time from which the next probe may start.
	NextProbe time.Time `json:",omitzero"`
	// LastError is the target's last failure.
	LastError string `json:",omitempty"`
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
	// Duplicates: redelivered entries dropped (journal position already accepted, or
	// without one, offset below State.NextOffset), and entries of a version already
	// held in the queue (see workflows/batch.go).
	Duplicates int64
	// Misrouted: entries of another topic or partition, dropped (a bridge bug).
	Misrouted int64
	// StatusErrors: status writes that failed for good (non-retryable); counted besides
	// the entry's Completed/Failed.
	StatusErrors int64
	// Bytes of object data written to targets.
	Bytes int64
	// Retried counts the failed replication bursts that were retried later (durable
	// retries), StatusRetried the same for status writes.
	Retried, StatusRetried int64 `json:",omitempty"`
	// BreakerOpened counts the times a target's breaker opened.
	BreakerOpened int64 `json:",omitempty"`
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
	Op                     bbproto.Op
	Bucket, Key, VersionID string
	// Phase is PhaseReplicate or PhaseSetStatus.
	Phase string
	// Since is the workflow time at which the phase began.
	Since time.Time
	// Status being written, in PhaseSetStatus.
	Status bbproto.Status `json:",omitempty"`
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
	// LastOffset is the offset of the last accepted entry, -1 before the first entry.
	LastOffset int64
	// Run is the run number (1, then +1 at each ContinueAsNew); RunID is this run's.
	Run   int
	RunID string
	// ProcessedThisRun and SignalsThisRun count towards ContinueAsNew
	// (Config.ContinueAsNewAfter, Config.MaxSignalsPerRun).
	ProcessedThisRun, SignalsThisRun int
	// Waiting are the queued entries waiting for their next attempt (durable retries),
	// in queue order, at most MaxStatusWaiting of them; WaitingCount counts them all.
	Waiting      []RetryState `json:",omitempty"`
	WaitingCount int          `json:",omitempty"`
	// Breakers are the open circuit breakers, by Target.
	Breakers []Breaker `json:",omitempty"`
	// Config is the configuration in effect in this run (the worker's over Params').
	Config *Config `json:",omitempty"`
}

// MaxStatusWaiting bounds Status.Waiting.
const MaxStatusWaiting = 100

package contract

import "time"

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
	// without one, offset below State.NextOffset).
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
	// LastOffset is the offset of the last accepted entry, -1 before the first entry.
	LastOffset int64
	// Run is the run number (1, then +1 at each ContinueAsNew); RunID is this run's.
	Run   int
	RunID string
	// ProcessedThisRun and SignalsThisRun count towards ContinueAsNew
	// (Config.ContinueAsNewAfter, Config.MaxSignalsPerRun).
	ProcessedThisRun, SignalsThisRun int
}

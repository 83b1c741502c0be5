package contract

import "github.com/backbeat-temporal/backbeat/bbproto"

// ActivityReplicateBatch is the registered name of the activity that replicates a
// batch of entries (each as ActivityReplicate would), writes their statuses in bulk and
// answers a per-entry outcome:
// func(context.Context, ReplicateBatchInput) (ReplicateBatchResult, error).
// A retry of the activity resumes from its heartbeat details: entries already finished
// are not redone.
const ActivityReplicateBatch = "ReplicateBatch"

// ReplicateBatchInput is the input of ActivityReplicateBatch.
type ReplicateBatchInput struct {
	// Entries to replicate, at most one version of each object (the workflow keeps the
	// versions of an object in order by never batching two of them together).
	Entries []Entry
	// Parallelism is the most entries replicated at once. 0 takes
	// DefaultBatchParallelism.
	Parallelism int `json:",omitempty"`
}

// Outcomes of one entry of a batch (EntryOutcome.Outcome).
const (
	// OutcomeDone: replicated (or already present); Status COMPLETED is to be written.
	OutcomeDone = "done"
	// OutcomeFailed: failed for good (a fail-fast ErrorKind); Status FAILED is to be
	// written with Reason.
	OutcomeFailed = "failed"
	// OutcomeRetry: failed retryably; the workflow retries the entry later (durable
	// retries). No status is written.
	OutcomeRetry = "retry"
	// OutcomeGone: the source version no longer exists (KindSourceGone); no status.
	OutcomeGone = "gone"
)

// EntryOutcome is what a batch did to one entry.
type EntryOutcome struct {
	// Outcome is one of the Outcome* constants.
	Outcome string
	// Kind and Error describe a failure (OutcomeFailed, OutcomeRetry, OutcomeGone).
	Kind  ErrorKind `json:",omitempty"`
	Error string    `json:",omitempty"`
	// Bytes of object data written to the target.
	Bytes int64 `json:",omitempty"`
	// Status and Reason to write on the source version (OutcomeDone: COMPLETED;
	// OutcomeFailed: FAILED with the reason); StatusWritten says that the activity's
	// bulk write of it succeeded. When it did not (StatusError says why), the workflow
	// writes it with ActivitySetStatus before the entry leaves the queue.
	Status        bbproto.Status `json:",omitempty"`
	Reason        string         `json:",omitempty"`
	StatusWritten bool           `json:",omitempty"`
	StatusError   string         `json:",omitempty"`
}

// ReplicateBatchResult is the result of ActivityReplicateBatch: one outcome per input
// entry, in the same order.
type ReplicateBatchResult struct {
	Outcomes []EntryOutcome
}

// Defaults of the batch settings of Config.
const (
	DefaultBatchMaxEntries  = 64
	DefaultBatchMaxBytes    = 64 << 20
	DefaultBatchParallelism = 16
	DefaultPartialBatches   = 2
	// DefaultLargeObjectSize is the object size (journal record size) from which an
	// entry is replicated alone by ActivityReplicate, on its resumable multipart path:
	// activities.DefaultMultipartThreshold.
	DefaultLargeObjectSize = 64 << 20
)

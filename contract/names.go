package contract

import "fmt"

// Names shared by the bridge, the worker, the activities and the starter. Changing one
// is a breaking change for running workflows.
const (
	// DefaultTopic is the default Kafka topic of the replication entries (ingest
	// produces to it, the bridge consumes it).
	DefaultTopic = "backbeat-replication"
	// TaskQueue is the task queue of the partition workflows and of their activities.
	TaskQueue = "backbeat-replication"
	// WorkflowName is the registered workflow type of the partition workflow.
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

// Headers of every Kafka message of the replication topic (set by ingest).
const (
	// HeaderJournalID is the ID of the journal the record comes from.
	HeaderJournalID = "backbeat-journal-id"
	// HeaderSeq is the record's sequence number in that journal, in decimal.
	HeaderSeq = "backbeat-journal-seq"
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

// ObjectKey names an object: "bucket/key". It is the Kafka key of the object's
// entries (so every version of an object lands in one partition, in journal order) and
// the unit of order of the partition workflow (the versions of one object never run
// concurrently).
func ObjectKey(bucket, key string) string { return bucket + "/" + key }

package contract

import "github.com/backbeat-temporal/backbeat/bbproto"

// Entry is one Kafka message of the replication topic: a journal record whose
// replication status is PENDING, at its offset in its partition.
type Entry struct {
	// Topic and Partition the message was read from; they must be the workflow's.
	Topic     string
	Partition int32
	// Offset of the message in its partition.
	Offset int64
	// JournalID and Seq are the record's journal position (the Kafka headers
	// HeaderJournalID and HeaderSeq); the workflow drops an entry whose Seq is at or
	// below the highest already accepted for its JournalID, so an offset reset or a
	// recreated topic loses and replays nothing. Empty (a bridge that predates them, or
	// a message without the headers): the workflow dedupes the entry by offset.
	JournalID string `json:",omitempty"`
	Seq       uint64 `json:",omitempty"`
	// Record is the message's value, a journal record.
	Record bbproto.Record
}

// EntriesSignal is the payload of SignalEntries: contiguous entries of one partition,
// offsets ascending, at most MaxEntriesPerSignal of them. Redelivered entries (journal
// position at or below the highest accepted for their journal, or without a journal
// position, offset below the next expected one) are dropped by the workflow, so the
// bridge may re-send after a rebalance or a crash.
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
	// Status is bbproto.StatusCompleted or bbproto.StatusFailed.
	Status bbproto.Status
	// Reason says why a FAILED version failed (empty for COMPLETED).
	Reason string
}

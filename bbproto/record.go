package bbproto

import "time"

// Op is the operation of a journal record.
type Op string

// Journal operations (Record.Op).
const (
	OpPut           Op = "put"            // a new object version (or a replica) was written
	OpDeleteMarker  Op = "delete-marker"  // a delete marker was written
	OpDeleteVersion Op = "delete-version" // a specific version was removed
	OpMetadata      Op = "metadata"       // tags or metadata of an existing version changed
	OpStatus        Op = "status"         // the replication status of a version changed
	OpBucket        Op = "bucket"         // a bucket was created, deleted or reconfigured
)

// Status is a version's replication status, as s3server keeps it and HeadObject shows
// it (x-amz-replication-status).
type Status string

// Replication statuses.
const (
	StatusPending    Status = "PENDING"
	StatusProcessing Status = "PROCESSING"
	StatusCompleted  Status = "COMPLETED"
	StatusFailed     Status = "FAILED"
	StatusReplica    Status = "REPLICA"
)

// Waiting tells whether the status still waits for the engine (PENDING or PROCESSING).
func (s Status) Waiting() bool { return s == StatusPending || s == StatusProcessing }

// Settable tells whether the status route accepts s: COMPLETED, FAILED, PROCESSING or
// PENDING (REPLICA is written only by replica writes).
func (s Status) Settable() bool {
	switch s {
	case StatusCompleted, StatusFailed, StatusProcessing, StatusPending:
		return true
	}
	return false
}

// Content is what a replication copies (Replication.Content).
type Content string

// Replication content kinds.
const (
	ContentData     Content = "DATA"
	ContentMetadata Content = "METADATA"
)

// Record is one journal record: what s3server writes in its metadata journal (the
// journal route answers one per line), ingest produces to Kafka and the partition
// workflows carry.
type Record struct {
	Seq            uint64            `json:"seq"`
	Time           time.Time         `json:"time"`
	Op             Op                `json:"op"`
	Bucket         string            `json:"bucket"`
	Key            string            `json:"key,omitempty"`
	VersionID      string            `json:"versionId,omitempty"`
	Size           int64             `json:"size"`
	ETag           string            `json:"etag,omitempty"`
	ContentType    string            `json:"contentType,omitempty"`
	UserMetadata   map[string]string `json:"userMetadata,omitempty"`
	Tags           map[string]string `json:"tags,omitempty"`
	IsDeleteMarker bool              `json:"isDeleteMarker"`
	LastModified   time.Time         `json:"lastModified"`
	Replication    *Replication      `json:"replication,omitempty"`
}

// Pending tells whether the record asks for replication work: a new version, a delete
// marker or a metadata change whose replication status is PENDING.
func (r *Record) Pending() bool {
	if r.Replication == nil || r.Replication.Status != StatusPending {
		return false
	}
	switch r.Op {
	case OpPut, OpDeleteMarker, OpMetadata, OpStatus:
		// OpStatus back to PENDING is a retry (starter failed retry) or a backfill.
		return true
	}
	return false
}

// Replication is a version's replication info (a system field, never user metadata), as
// stored, journaled and answered by the version routes.
type Replication struct {
	Status      Status    `json:"status"`
	Role        string    `json:"role,omitempty"`
	Destination string    `json:"destination,omitempty"` // bucket ARN
	Site        string    `json:"site,omitempty"`
	Content     []Content `json:"content,omitempty"` // [DATA METADATA] or [METADATA]
	RuleID      string    `json:"ruleId,omitempty"`
	Reason      string    `json:"reason,omitempty"` // why FAILED
	// SourceBucket and SourceAccount name the source of a replica (status REPLICA): the
	// bucket and the account owning it. Empty on replicas written before they were
	// recorded.
	SourceBucket  string `json:"sourceBucket,omitempty"`
	SourceAccount string `json:"sourceAccount,omitempty"`
	// StatusTime is when Status was last written (the sweeper's threshold counts from
	// it; a re-drive resets it). Zero on versions written before it was recorded.
	StatusTime time.Time `json:"statusTime,omitzero"`
	// PendingSince is when the version last became PENDING coming from no status,
	// COMPLETED or FAILED: kept while it stays PENDING or PROCESSING (a re-drive keeps
	// it), zero otherwise and on versions written before it was recorded.
	PendingSince time.Time `json:"pendingSince,omitzero"`
}

// MetadataOnly tells whether the replication copies metadata only (Content names no
// DATA; an empty Content means data and metadata).
func (r *Replication) MetadataOnly() bool {
	if len(r.Content) == 0 {
		return false
	}
	for _, c := range r.Content {
		if c == ContentData {
			return false
		}
	}
	return true
}

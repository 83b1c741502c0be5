// Package record is the journal record format of DESIGN.md: what s3server writes in its
// metadata journal, ingest produces to Kafka and the partition workflows carry. It does
// no I/O and imports nothing but the standard library, so that the workflows can use it.
package record

import "time"

// Journal operations (Record.Op).
const (
	OpPut           = "put"
	OpDeleteMarker  = "delete-marker"
	OpDeleteVersion = "delete-version"
	OpMetadata      = "metadata"
	OpStatus        = "status"
	OpBucket        = "bucket"
)

// Replication statuses.
const (
	StatusPending    = "PENDING"
	StatusProcessing = "PROCESSING"
	StatusCompleted  = "COMPLETED"
	StatusFailed     = "FAILED"
	StatusReplica    = "REPLICA"
)

// Record is one journal record.
type Record struct {
	Seq            uint64            `json:"seq"`
	Time           time.Time         `json:"time"`
	Op             string            `json:"op"`
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

// Replication is a version's replication info as journaled.
type Replication struct {
	Status      string   `json:"status"`
	Role        string   `json:"role,omitempty"`
	Destination string   `json:"destination,omitempty"`
	Site        string   `json:"site,omitempty"`
	Content     []string `json:"content,omitempty"`
	RuleID      string   `json:"ruleId,omitempty"`
	Reason      string   `json:"reason,omitempty"`
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

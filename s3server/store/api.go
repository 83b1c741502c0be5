// Package store is s3server's embedded metadata store: buckets, object versions,
// multipart uploads and the metadata journal live in one bbolt file, and object data
// lives in blob files beside it.
//
// Every metadata change and its journal record are written in ONE bbolt transaction.
// Object data is written to a temporary file, fsynced and renamed into place (see
// BlobWriter) before the metadata transaction that makes it visible commits, so a crash
// at any moment leaves no journal record without its data and no visible object without
// its journal record. Journal sequence numbers are gap-free: each record takes the
// previous head plus one inside the writing transaction.
package store

import (
	"errors"
	"fmt"
	"time"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// Versioning states of a bucket, as S3 names them. The zero value means the bucket has
// never had versioning enabled ("unversioned").
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// NullVersionID is the version id of the version written while versioning is off or
// suspended.
const NullVersionID = "null"

// Sentinel errors. Handlers map them to S3 error codes.
var (
	ErrNoSuchBucket            = errors.New("store: no such bucket")
	ErrBucketExists            = errors.New("store: bucket already exists")
	ErrBucketAlreadyOwnedByYou = errors.New("store: bucket already owned by you")
	ErrBucketNotEmpty          = errors.New("store: bucket not empty")
	ErrNoSuchKey               = errors.New("store: no such key")
	ErrNoSuchVersion           = errors.New("store: no such version")
	ErrNoSuchUpload            = errors.New("store: no such upload")
	ErrInvalidPart             = errors.New("store: invalid part")
	ErrInvalidPartOrder        = errors.New("store: invalid part order")
	ErrEntityTooSmall          = errors.New("store: part too small")
	ErrNoReplicationConfig     = errors.New("store: no replication configuration")
	ErrVersioningNotEnabled    = errors.New("store: versioning is not enabled")
	ErrClosed                  = errors.New("store: closed")
	// ErrReplicaConflict: a replica write found, under its version id, a version that is
	// not a replica of the same source (see ReplicaConflictError).
	ErrReplicaConflict = errors.New("store: the target holds another version under this version id")
)

// ReplicaConflictError is returned by PutReplica and CompleteUpload (replica) when the
// bucket already holds, under the replica's version id, a version that is not a replica
// of the same source: it is never replaced. It matches ErrReplicaConflict.
type ReplicaConflictError struct {
	Bucket, Key, VersionID string
	// Replica tells whether the existing version is a replica (of another source).
	Replica bool
	// SourceBucket and SourceAccount are the existing replica's source.
	SourceBucket, SourceAccount string
}

func (e *ReplicaConflictError) Error() string {
	if e.Replica {
		return fmt.Sprintf("store: bucket %s already holds version %s of %s as a replica of bucket %s (account %s)", e.Bucket, e.VersionID, e.Key, e.SourceBucket, e.SourceAccount)
	}
	return fmt.Sprintf("store: bucket %s already holds its own version %s of %s (not a replica)", e.Bucket, e.VersionID, e.Key)
}

// Is makes errors.Is(err, ErrReplicaConflict) true.
func (e *ReplicaConflictError) Is(target error) bool { return target == ErrReplicaConflict }

// ErrNoMatchingRule is an item's error of SetReplicationStatuses with IfUnset when
// PENDING is asked and no Enabled replication rule of the bucket selects the version.
var ErrNoMatchingRule = errors.New("store: no Enabled replication rule selects the version")

// StatusAlreadySetError is an item's error of SetReplicationStatuses with IfUnset when
// the version already has a replication status (Current): nothing was written.
type StatusAlreadySetError struct {
	Bucket, Key, VersionID string
	Current                bbproto.Status
}

func (e *StatusAlreadySetError) Error() string {
	return fmt.Sprintf("store: %s/%s version %s already has replication status %s", e.Bucket, e.Key, e.VersionID, e.Current)
}

// DeleteMarkerError is returned by GetVersion when the requested (or latest) version is a
// delete marker. Handlers answer 404 NoSuchKey (latest) or 405 MethodNotAllowed (by id) and
// set x-amz-delete-marker: true and x-amz-version-id.
type DeleteMarkerError struct {
	VersionID    string
	LastModified time.Time
}

func (e *DeleteMarkerError) Error() string {
	return fmt.Sprintf("store: version %s is a delete marker", e.VersionID)
}

// JournalTruncatedError is returned by ReadJournal when records after `after` were
// already removed by retention. Oldest is the oldest seq still kept.
type JournalTruncatedError struct {
	After  uint64
	Oldest uint64
}

func (e *JournalTruncatedError) Error() string {
	return fmt.Sprintf("store: journal records after seq %d were removed by retention; oldest kept seq is %d", e.After, e.Oldest)
}

// Options configure Open.
type Options struct {
	// Policy decides the replication info of new versions, delete markers and tag
	// changes. Called inside the write transaction with the bucket as stored in it.
	// Nil means nothing is ever replicated.
	Policy ReplicationPolicy
	// JournalRetention is how many journal records are kept; older ones are pruned.
	// Default 0: keep every record.
	JournalRetention uint64
	// JournalMaxAge removes journal records older than this. Default 0: no age limit.
	JournalMaxAge time.Duration
	// Now returns the current time. Default time.Now (tests may override).
	Now func() time.Time
	// NoSync disables fsync of bbolt and blobs: for benchmarks only. Default false.
	NoSync bool
}

// ReplicationPolicy returns the replication info for a version of key in bucket b (nil
// when no Enabled rule matches). deleteMarker tells whether the version is a delete
// marker; tags are the version's tags. The returned Replication has Status PENDING.
type ReplicationPolicy func(b *Bucket, key string, tags map[string]string, deleteMarker bool) *Replication

// Bucket is a bucket's metadata.
type Bucket struct {
	Name    string    `json:"name"`
	Owner   string    `json:"owner"` // account name
	Created time.Time `json:"created"`
	// Versioning is "", VersioningEnabled or VersioningSuspended.
	Versioning string `json:"versioning,omitempty"`
	// ReplicationConfig is the replication configuration XML as validated by the
	// handler layer; nil when none.
	ReplicationConfig []byte            `json:"replicationConfig,omitempty"`
	Tags              map[string]string `json:"tags,omitempty"`
	// Policy is the bucket policy JSON as validated by the handler layer; nil when none.
	Policy []byte `json:"policy,omitempty"`
}

// Replication is a version's replication info (a system field, never user metadata):
// the protocol's type, stored as is.
type Replication = bbproto.Replication

// Part is one data segment of a version: a blob file and its size. A single-PUT object
// has one part; a completed multipart upload has one per uploaded part.
type Part = bbproto.Part

// ObjectMeta is what a client sets on a version: content headers, user metadata, tags.
type ObjectMeta = bbproto.ObjectMeta

// Version is one object version or delete marker.
type Version struct {
	Bucket         string       `json:"bucket"`
	Key            string       `json:"key"`
	VersionID      string       `json:"versionId"` // NullVersionID for the null version
	IsDeleteMarker bool         `json:"isDeleteMarker,omitempty"`
	Size           int64        `json:"size"`
	ETag           string       `json:"etag"` // unquoted: hex MD5, or "hex-N" for multipart
	LastModified   time.Time    `json:"lastModified"`
	Owner          string       `json:"owner"`
	Meta           ObjectMeta   `json:"meta"`
	Parts          []Part       `json:"parts,omitempty"`
	Replication    *Replication `json:"replication,omitempty"`
	// UploadID is the multipart upload a client completed into this version ("" for
	// others): a repeated CompleteMultipartUpload finds its result by it.
	UploadID string `json:"uploadId,omitempty"`
	// IsLatest is set by reads (GetVersion, WalkVersions); not stored.
	IsLatest bool `json:"-"`
}

// PutInput describes a new version written by a client PUT, copy or multipart complete.
type PutInput struct {
	Bucket string
	Key    string
	Owner  string
	Meta   ObjectMeta
	// Parts are finalized blobs (BlobWriter.Commit) holding the data, in order.
	Parts []Part
	// ETag is the version's ETag, unquoted. Size is the sum of part sizes.
	ETag string
	Size int64
}

// ReplicaInput describes a replica written by the replication identity through the
// privileged route: it keeps the source's version id and last-modified time, and its
// replication status is REPLICA.
type ReplicaInput struct {
	Bucket         string
	Key            string
	VersionID      string
	LastModified   time.Time
	IsDeleteMarker bool
	Owner          string
	Meta           ObjectMeta
	Parts          []Part // empty for a delete marker
	// ETag of the version; for CompleteUpload, "" keeps the multipart ETag of the parts,
	// and a single-PUT source's ETag (hex MD5) is kept as the replica's.
	ETag string
	Size int64
	// Source is the replication info carried from the source (role, site...).
	Source *Replication
	// SourceBucket and SourceAccount name the source the replica comes from: kept on the
	// replica (Replication.SourceBucket/SourceAccount). A replica never replaces a
	// version that is not a replica of the same source (ReplicaConflictError).
	SourceBucket, SourceAccount string
	// MetadataOnly updates Meta (tags, user metadata, content headers) of the existing
	// replica VersionID without touching its data: ErrNoSuchVersion when it is absent.
	MetadataOnly bool
}

// DeleteResult tells what a DeleteObject did.
type DeleteResult struct {
	VersionID    string // the version removed, or the delete marker created
	DeleteMarker bool   // the removed version was a delete marker, or a marker was created
}

// WalkOptions bound a WalkVersions iteration.
type WalkOptions struct {
	Prefix string
	// After starts after this key (all of its versions are skipped) when AfterVersion is
	// empty; with AfterVersion, starts after that version of the key.
	After        string
	AfterVersion string
}

// Upload is an in-progress multipart upload.
type Upload struct {
	ID        string     `json:"id"`
	Bucket    string     `json:"bucket"`
	Key       string     `json:"key"`
	Owner     string     `json:"owner"`
	Initiated time.Time  `json:"initiated"`
	Meta      ObjectMeta `json:"meta"`
}

// UploadPart is an uploaded part of a multipart upload.
type UploadPart struct {
	Number       int       `json:"number"`
	Blob         string    `json:"blob"`
	Size         int64     `json:"size"`
	ETag         string    `json:"etag"` // hex MD5, unquoted
	LastModified time.Time `json:"lastModified"`
	// Checksums by algorithm, base64, as sent with the part.
	Checksums map[string]string `json:"checksums,omitempty"`
}

// CompletePart names a part in CompleteMultipartUpload.
type CompletePart struct {
	Number int
	ETag   string // unquoted
}

// MinPartSize is the smallest allowed size of every part but the last (5 MiB, as S3).
const MinPartSize = 5 << 20

// Record is one journal record (the protocol's record, stored as is).
type Record = bbproto.Record

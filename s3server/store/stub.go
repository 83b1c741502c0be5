package store

// THIS FILE IS A PLACEHOLDER: the store helper replaces it with the implementation,
// keeping these exact signatures and doc comments (moved into the real files).

import (
	"context"
	"io"
)

// Store is the embedded metadata store. It is safe for concurrent use.
type Store struct{}

// Open opens (creating if needed) the store in dir: dir/meta.db (bbolt), dir/blobs/,
// dir/tmp/. A new data directory gets a new random journal ID.
func Open(dir string, opts Options) (*Store, error) { panic("TODO") }

// Close closes the store; blocked Wait calls return ErrClosed.
func (s *Store) Close() error { panic("TODO") }

// JournalID is the ID made when the data directory was created.
func (s *Store) JournalID() string { panic("TODO") }

// CreateBucket creates a bucket owned by owner. ErrBucketAlreadyOwnedByYou when owner
// already has it, ErrBucketExists when another account has it. Journaled (OpBucket).
func (s *Store) CreateBucket(ctx context.Context, name, owner string) (*Bucket, error) { panic("TODO") }

// GetBucket returns a bucket or ErrNoSuchBucket.
func (s *Store) GetBucket(ctx context.Context, name string) (*Bucket, error) { panic("TODO") }

// ListBuckets returns every bucket, sorted by name.
func (s *Store) ListBuckets(ctx context.Context) ([]*Bucket, error) { panic("TODO") }

// DeleteBucket deletes an empty bucket (no versions, no delete markers, no uploads in
// progress): ErrBucketNotEmpty otherwise. Journaled (OpBucket).
func (s *Store) DeleteBucket(ctx context.Context, name string) error { panic("TODO") }

// UpdateBucket applies fn to the stored bucket in one transaction and stores the result
// (versioning, replication config, tags). fn may return an error to abort. Journaled
// (OpBucket).
func (s *Store) UpdateBucket(ctx context.Context, name string, fn func(b *Bucket) error) (*Bucket, error) {
	panic("TODO")
}

// NewBlob starts a blob: data is written to a temporary file under dir/tmp.
func (s *Store) NewBlob() (*BlobWriter, error) { panic("TODO") }

// OpenBlob opens a committed blob for reading.
func (s *Store) OpenBlob(id string) (io.ReadSeekCloser, error) { panic("TODO") }

// LinkBlob makes a new blob with the same content as id (a hard link when possible) for
// server-side copy, already durable.
func (s *Store) LinkBlob(id string) (string, error) { panic("TODO") }

// RemoveBlobs deletes blobs no longer referenced (best effort, errors logged by caller).
func (s *Store) RemoveBlobs(ids ...string) error { panic("TODO") }

// BlobWriter writes one blob. Write, then Commit (fsync, rename into place, fsync dir) or
// Abort. Not safe for concurrent use.
type BlobWriter struct{}

// Write appends data.
func (w *BlobWriter) Write(p []byte) (int, error) { panic("TODO") }

// Commit makes the blob durable and returns its id and size.
func (w *BlobWriter) Commit() (id string, size int64, err error) { panic("TODO") }

// Abort removes the temporary file.
func (w *BlobWriter) Abort() { panic("TODO") }

// PutObject writes a new version (Enabled: a new version id; unversioned or Suspended:
// the null version, replacing any previous null version). Replication is set from
// Options.Policy (PENDING when an Enabled rule matches). Journaled (OpPut). The returned
// removed blobs (of a replaced null version) are deleted by the store after commit.
func (s *Store) PutObject(ctx context.Context, in PutInput) (*Version, error) { panic("TODO") }

// GetVersion returns a version; versionID "" means the latest. A delete marker answers
// *DeleteMarkerError; a missing key ErrNoSuchKey; a missing version id ErrNoSuchVersion.
func (s *Store) GetVersion(ctx context.Context, bucket, key, versionID string) (*Version, error) {
	panic("TODO")
}

// DeleteObject with versionID "": Enabled → a new delete marker (OpDeleteMarker, PENDING
// when a rule with DeleteMarkerReplication matches, decided by Policy with
// deleteMarker=true); Suspended → a null delete marker replacing the null version;
// unversioned → removes the null version (OpDeleteVersion), no error when absent.
// With a versionID: removes that version or delete marker (OpDeleteVersion); when it
// does not exist the result is zero and the error nil (S3 answers 204 for that too).
func (s *Store) DeleteObject(ctx context.Context, bucket, key, versionID string) (DeleteResult, error) {
	panic("TODO")
}

// PutTags replaces a version's tags (versionID "" = latest; a delete marker →
// *DeleteMarkerError). Journaled (OpMetadata); when Policy matches, the version's
// replication becomes PENDING with Content ["METADATA"] (data is not re-copied).
// Returns the version id changed.
func (s *Store) PutTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (string, error) {
	panic("TODO")
}

// WalkVersions calls fn for each version of bucket in ListObjectVersions order (keys
// ascending, versions newest first, IsLatest set) until fn returns false. fn runs inside
// a read transaction: it must not call the store.
func (s *Store) WalkVersions(ctx context.Context, bucket string, opts WalkOptions, fn func(v *Version) bool) error {
	panic("TODO")
}

// CreateUpload starts a multipart upload and returns it.
func (s *Store) CreateUpload(ctx context.Context, bucket, key, owner string, meta ObjectMeta) (*Upload, error) {
	panic("TODO")
}

// GetUpload returns an upload or ErrNoSuchUpload (also when bucket/key do not match).
func (s *Store) GetUpload(ctx context.Context, bucket, key, uploadID string) (*Upload, error) {
	panic("TODO")
}

// PutPart records a part (a committed blob), replacing a previous part of that number
// (whose blob the store removes).
func (s *Store) PutPart(ctx context.Context, bucket, key, uploadID string, part UploadPart) error {
	panic("TODO")
}

// ListParts returns the upload's parts sorted by number.
func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) ([]UploadPart, error) {
	panic("TODO")
}

// ListUploads returns the bucket's uploads in progress sorted by key then initiation.
func (s *Store) ListUploads(ctx context.Context, bucket string) ([]*Upload, error) { panic("TODO") }

// CompleteUpload checks parts (ascending numbers: ErrInvalidPartOrder; each must exist
// with that ETag: ErrInvalidPart; all but the last ≥ MinPartSize: ErrEntityTooSmall),
// writes the version exactly like PutObject (ETag "md5-of-md5s-N"), removes the upload
// and the blobs of parts not used. Journaled (OpPut). With replica non-nil the version is
// written as PutReplica writes it (replica's VersionID, LastModified, Meta, Source; its
// Parts/ETag/Size are ignored and taken from the upload), for large replicas sent in parts.
func (s *Store) CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, replica *ReplicaInput) (*Version, error) {
	panic("TODO")
}

// AbortUpload removes an upload and its part blobs.
func (s *Store) AbortUpload(ctx context.Context, bucket, key, uploadID string) error { panic("TODO") }

// SetReplicationStatus sets a version's replication status (PROCESSING, COMPLETED, FAILED
// with reason, or PENDING again for a retry). ErrNoSuchVersion when the version is gone.
// Journaled (OpStatus) with the version's replication info.
func (s *Store) SetReplicationStatus(ctx context.Context, bucket, key, versionID, status, reason string) (*Version, error) {
	panic("TODO")
}

// PutReplica writes a replica version or delete marker keeping the source's version id
// and last-modified time, with replication status REPLICA. Versions of a key stay
// ordered by the source's order (the version id's order) even when an older replica
// arrives after a newer one. Writing a version id that already exists replaces it
// (idempotent re-run). Journaled (OpPut or OpDeleteMarker, status REPLICA).
func (s *Store) PutReplica(ctx context.Context, in ReplicaInput) (*Version, error) { panic("TODO") }

// ReadJournal returns up to limit records with seq > after, and the head seq (the last
// written). *JournalTruncatedError when records after `after` were pruned.
func (s *Store) ReadJournal(ctx context.Context, after uint64, limit int) ([]Record, uint64, error) {
	panic("TODO")
}

// WaitJournal blocks until the head seq is > after, ctx is done, or the store closes.
func (s *Store) WaitJournal(ctx context.Context, after uint64) error { panic("TODO") }

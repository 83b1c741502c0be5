package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// decodeVersion decodes a stored version.
func decodeVersion(raw []byte) (*Version, error) {
	v := new(Version)
	if err := json.Unmarshal(raw, v); err != nil {
		return nil, fmt.Errorf("store: decode version: %w", err)
	}
	return v, nil
}

// resolveOrder returns the order key of versionID of key, "" when absent.
func (d *bucketData) resolveOrder(key, versionID string) string {
	if isGenID(versionID) {
		if d.versions.Get(versionKey(key, versionID)) != nil {
			return versionID
		}
		return ""
	}
	if a := d.aliases.Get(versionKey(key, versionID)); a != nil {
		return string(a)
	}
	return ""
}

// latest returns the order key and stored value of the latest version of key (nil when
// the key has no version).
func (d *bucketData) latest(key string) (string, []byte) {
	prefix := keyPrefix(key)
	k, v := d.versions.Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return "", nil
	}
	return string(k[len(prefix):]), v
}

// version returns the version of key at order (nil when absent).
func (d *bucketData) version(key, order string) (*Version, error) {
	raw := d.versions.Get(versionKey(key, order))
	if raw == nil {
		return nil, nil
	}
	return decodeVersion(raw)
}

// find returns the version versionID ("" = latest) of key, its order key, and whether it
// is the latest; ErrNoSuchKey or ErrNoSuchVersion when absent.
func (d *bucketData) find(bucket, key, versionID string) (*Version, string, error) {
	lorder, lraw := d.latest(key)
	if versionID == "" {
		if lraw == nil {
			return nil, "", fmt.Errorf("%w: %s/%s", ErrNoSuchKey, bucket, key)
		}
		v, err := decodeVersion(lraw)
		if err != nil {
			return nil, "", err
		}
		v.IsLatest = true
		return v, lorder, nil
	}
	order := d.resolveOrder(key, versionID)
	if order == "" {
		return nil, "", fmt.Errorf("%w: %s/%s version %s", ErrNoSuchVersion, bucket, key, versionID)
	}
	v, err := d.version(key, order)
	if err != nil {
		return nil, "", err
	}
	if v == nil {
		return nil, "", fmt.Errorf("%w: %s/%s version %s", ErrNoSuchVersion, bucket, key, versionID)
	}
	v.IsLatest = order == lorder
	return v, order, nil
}

// writeVersion stores v at order, with an alias when its id is not its order key.
func (w *wtx) writeVersion(d *bucketData, v *Version, order string) error {
	if err := w.putVersion(d, v.Key, order, v); err != nil {
		return err
	}
	if v.VersionID != order {
		return w.put(d.aliases, versionKey(v.Key, v.VersionID), []byte(order))
	}
	return nil
}

// removeVersion deletes the version v stored at order, and its alias.
func (w *wtx) removeVersion(d *bucketData, v *Version, order string) error {
	if err := w.delVersion(d, v.Key, order); err != nil {
		return err
	}
	if v.VersionID != order {
		return w.del(d.aliases, versionKey(v.Key, v.VersionID))
	}
	return nil
}

// unusedBlobs returns the blobs of old that v does not use.
func unusedBlobs(old, v *Version) []string {
	var out []string
	for _, p := range old.Parts {
		if v == nil || !slices.ContainsFunc(v.Parts, func(q Part) bool { return q.Blob == p.Blob }) {
			out = append(out, p.Blob)
		}
	}
	return out
}

// writeNew writes a new version or delete marker made by a client: a new version id in a
// versioning-enabled bucket, otherwise the null version replacing the previous one. The
// replication info comes from the policy. It journals op and returns the blobs no longer
// referenced.
func (w *wtx) writeNew(b *Bucket, d *bucketData, v *Version, op bbproto.Op) ([]string, error) {
	var (
		removed  []string
		old      *Version
		oldOrder string
	)
	if b.Versioning != VersioningEnabled {
		if oldOrder = d.resolveOrder(v.Key, NullVersionID); oldOrder != "" {
			var err error
			if old, err = d.version(v.Key, oldOrder); err != nil {
				return nil, err
			}
		}
	}
	if p := w.s.opts.Policy; p != nil {
		v.Replication = p(b, v.Key, v.Meta.Tags, v.IsDeleteMarker)
		stamp(v.Replication, w.now())
	}
	order := w.newOrder(d.versions, v.Key)
	if b.Versioning == VersioningEnabled {
		v.VersionID = order
	} else {
		v.VersionID = NullVersionID
	}
	if old != nil {
		removed = unusedBlobs(old, v)
		if err := w.delVersion(d, v.Key, oldOrder); err != nil {
			return nil, err
		}
	}
	if err := w.writeVersion(d, v, order); err != nil {
		return nil, err
	}
	return removed, w.appendRecord(recordOf(op, v))
}

// partsSize is the total size of parts.
func partsSize(parts []Part) int64 {
	var n int64
	for _, p := range parts {
		n += p.Size
	}
	return n
}

// removeBlobs removes blobs after a commit, best effort: a blob left behind is removed
// by the next Open.
func (s *Store) removeBlobs(ids []string) {
	if len(ids) > 0 {
		_ = s.RemoveBlobs(ids...)
	}
}

// PutObject writes a new version (Enabled: a new version id; unversioned or Suspended:
// the null version, replacing any previous null version). Replication is set from
// Options.Policy (PENDING when an Enabled rule matches). Journaled (bbproto.OpPut). The blobs of
// a replaced null version are deleted by the store after commit. Size is the sum of the
// part sizes when there are parts. ErrInvalidKey for a key the store cannot hold. On
// error the caller still owns in.Parts (RemoveBlobs them; Open removes any left over).
func (s *Store) PutObject(ctx context.Context, in PutInput) (*Version, error) {
	if err := checkKey(in.Key); err != nil {
		return nil, err
	}
	size := in.Size
	if len(in.Parts) > 0 {
		size = partsSize(in.Parts)
	}
	var (
		out     *Version
		removed []string
	)
	err := s.update(ctx, func(w *wtx) error {
		b, d, err := w.bucket(in.Bucket)
		if err != nil {
			return err
		}
		v := &Version{
			Bucket:       in.Bucket,
			Key:          in.Key,
			Size:         size,
			ETag:         in.ETag,
			LastModified: w.now(),
			Owner:        in.Owner,
			Meta:         in.Meta,
			Parts:        in.Parts,
		}
		removed, err = w.writeNew(b, d, v, bbproto.OpPut)
		out = v
		return err
	})
	if err != nil {
		return nil, err
	}
	s.removeBlobs(removed)
	out.IsLatest = true
	return out, nil
}

// GetVersion returns a version; versionID "" means the latest. A delete marker answers
// *DeleteMarkerError; a missing key ErrNoSuchKey; a missing (or malformed) version id
// ErrNoSuchVersion.
func (s *Store) GetVersion(ctx context.Context, bucket, key, versionID string) (*Version, error) {
	var out *Version
	err := s.view(ctx, func(tx *bolt.Tx) error {
		d, err := openBucketData(tx.Bucket(bktData), bucket)
		if err != nil {
			return err
		}
		v, _, err := d.find(bucket, key, versionID)
		if err != nil {
			return err
		}
		if v.IsDeleteMarker {
			return &DeleteMarkerError{VersionID: v.VersionID, LastModified: v.LastModified}
		}
		out = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteObject with versionID "": Enabled → a new delete marker (bbproto.OpDeleteMarker, PENDING
// when a rule with DeleteMarkerReplication matches, decided by Policy with
// deleteMarker=true); Suspended → a null delete marker replacing the null version;
// unversioned → removes the null version (bbproto.OpDeleteVersion), no error when absent.
// With a versionID: removes that version or delete marker (bbproto.OpDeleteVersion); when it
// does not exist the result is zero and the error nil (S3 answers 204 for that too).
// A delete that removes nothing writes no journal record. Delete markers are owned by
// the bucket owner. bbproto.OpDeleteVersion records carry no replication info (a removed version
// is never replicated).
func (s *Store) DeleteObject(ctx context.Context, bucket, key, versionID string) (DeleteResult, error) {
	if err := checkKey(key); err != nil {
		return DeleteResult{}, err
	}
	var (
		res     DeleteResult
		removed []string
	)
	err := s.update(ctx, func(w *wtx) error {
		res, removed = DeleteResult{}, nil
		b, d, err := w.bucket(bucket)
		if err != nil {
			return err
		}
		if versionID == "" && b.Versioning != "" {
			v := &Version{
				Bucket:         bucket,
				Key:            key,
				IsDeleteMarker: true,
				LastModified:   w.now(),
				Owner:          b.Owner,
			}
			removed, err = w.writeNew(b, d, v, bbproto.OpDeleteMarker)
			res = DeleteResult{VersionID: v.VersionID, DeleteMarker: true}
			return err
		}
		id := versionID
		if id == "" {
			id = NullVersionID
		}
		order := d.resolveOrder(key, id)
		if order == "" {
			return nil
		}
		v, err := d.version(key, order)
		if err != nil || v == nil {
			return err
		}
		if err := w.removeVersion(d, v, order); err != nil {
			return err
		}
		removed = unusedBlobs(v, nil)
		res = DeleteResult{VersionID: v.VersionID, DeleteMarker: v.IsDeleteMarker}
		rec := recordOf(bbproto.OpDeleteVersion, v)
		rec.Replication = nil
		return w.appendRecord(rec)
	})
	if err != nil {
		return DeleteResult{}, err
	}
	s.removeBlobs(removed)
	return res, nil
}

// PutTags replaces a version's tags (versionID "" = latest; a delete marker →
// *DeleteMarkerError). Journaled (bbproto.OpMetadata); when Policy matches, the version's
// replication becomes PENDING with Content ["METADATA"] (data is not re-copied). The
// replication info of a replica (status REPLICA) is never changed. Returns the version id
// changed.
func (s *Store) PutTags(ctx context.Context, bucket, key, versionID string, tags map[string]string) (string, error) {
	if err := checkKey(key); err != nil {
		return "", err
	}
	if len(tags) == 0 {
		tags = nil
	} else {
		tags = maps.Clone(tags)
	}
	var id string
	err := s.update(ctx, func(w *wtx) error {
		b, d, err := w.bucket(bucket)
		if err != nil {
			return err
		}
		v, order, err := d.find(bucket, key, versionID)
		if err != nil {
			return err
		}
		if v.IsDeleteMarker {
			return &DeleteMarkerError{VersionID: v.VersionID, LastModified: v.LastModified}
		}
		v.Meta.Tags = tags
		if p := w.s.opts.Policy; p != nil && (v.Replication == nil || v.Replication.Status != bbproto.StatusReplica) {
			if r := p(b, key, tags, false); r != nil {
				r.Status = bbproto.StatusPending
				r.Content = []bbproto.Content{bbproto.ContentMetadata}
				r.Reason = ""
				r.PendingSince = pendingSince(v.Replication)
				setStatus(r, bbproto.StatusPending, w.now())
				v.Replication = r
			}
		}
		if err := w.putVersion(d, key, order, v); err != nil {
			return err
		}
		id = v.VersionID
		return w.appendRecord(recordOf(bbproto.OpMetadata, v))
	})
	if err != nil {
		return "", err
	}
	return id, nil
}

// WalkVersions calls fn for each version of bucket in ListObjectVersions order (keys
// ascending, versions newest first, IsLatest set) until fn returns false. fn runs inside
// a read transaction: it must not call the store.
func (s *Store) WalkVersions(ctx context.Context, bucket string, opts WalkOptions, fn func(v *Version) bool) error {
	return s.view(ctx, func(tx *bolt.Tx) error {
		d, err := openBucketData(tx.Bucket(bktData), bucket)
		if err != nil {
			return err
		}
		c := d.versions.Cursor()
		prefix := []byte(opts.Prefix)
		var k, raw []byte
		switch {
		case opts.After != "" && opts.AfterVersion != "":
			order := d.resolveOrder(opts.After, opts.AfterVersion)
			if order == "" && isGenID(opts.AfterVersion) {
				order = opts.AfterVersion // deleted since: its order key still places it
			}
			if order == "" {
				k, raw = c.Seek(append([]byte(opts.After), 1))
			} else {
				start := versionKey(opts.After, order)
				k, raw = c.Seek(start)
				if k != nil && bytes.Equal(k, start) {
					k, raw = c.Next()
				}
			}
		case opts.After != "":
			k, raw = c.Seek(append([]byte(opts.After), 1))
		default:
			k, raw = c.Seek(prefix)
		}
		if k != nil && bytes.Compare(k, prefix) < 0 {
			k, raw = c.Seek(prefix)
		}
		var prevKey []byte
		first := true
		for ; k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
			key, order := splitVersionKey(k)
			v, err := decodeVersion(raw)
			if err != nil {
				return fmt.Errorf("store: %s/%s: %w", bucket, key, err)
			}
			if first {
				lorder, _ := d.latest(string(key))
				v.IsLatest = lorder == string(order)
				first = false
			} else {
				v.IsLatest = !bytes.Equal(key, prevKey)
			}
			prevKey = key
			if !fn(v) {
				return nil
			}
		}
		return nil
	})
}

// SetReplicationStatus sets a version's replication status (PROCESSING, COMPLETED, FAILED
// with reason, or PENDING again for a retry). ErrNoSuchVersion when the version is gone.
// Journaled (bbproto.OpStatus) with the version's replication info. versionID "" means the
// latest version. A version without replication info gets some: when the status is
// PENDING (a backfill) it comes from the Policy when a rule matches, else it holds just
// the status. The reason is kept for FAILED and cleared otherwise.
func (s *Store) SetReplicationStatus(ctx context.Context, bucket, key, versionID string, status bbproto.Status, reason string) (*Version, error) {
	if !status.Settable() {
		return nil, fmt.Errorf("store: invalid replication status %q", status)
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var out *Version
	err := s.update(ctx, func(w *wtx) error {
		v, err := w.setStatus(bucket, key, versionID, status, reason, false)
		out = v
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// setStatus is SetReplicationStatus (and SetReplicationStatuses for one version) inside
// a write transaction: every check that can fail comes before the write. ifUnset: see
// StatusUpdate.IfUnset.
func (w *wtx) setStatus(bucket, key, versionID string, status bbproto.Status, reason string, ifUnset bool) (*Version, error) {
	b, d, err := w.bucket(bucket)
	if err != nil {
		return nil, err
	}
	v, order, err := d.find(bucket, key, versionID)
	if errors.Is(err, ErrNoSuchKey) {
		return nil, fmt.Errorf("%w: %s/%s version %s", ErrNoSuchVersion, bucket, key, versionID)
	}
	if err != nil {
		return nil, err
	}
	if ifUnset && v.Replication != nil && v.Replication.Status != "" {
		return nil, &StatusAlreadySetError{Bucket: bucket, Key: key, VersionID: versionID, Current: v.Replication.Status}
	}
	if v.Replication == nil && status == bbproto.StatusPending && w.s.opts.Policy != nil {
		v.Replication = w.s.opts.Policy(b, key, v.Meta.Tags, v.IsDeleteMarker)
	}
	if ifUnset && status == bbproto.StatusPending && (v.Replication == nil || v.Replication.Destination == "") {
		return nil, fmt.Errorf("%w: %s/%s version %s", ErrNoMatchingRule, bucket, key, versionID)
	}
	if v.Replication == nil {
		v.Replication = &Replication{}
	}
	setStatus(v.Replication, status, w.now())
	v.Replication.Reason = ""
	if status == bbproto.StatusFailed {
		v.Replication.Reason = reason
	}
	if err := w.putVersion(d, key, order, v); err != nil {
		return nil, err
	}
	return v, w.appendRecord(recordOf(bbproto.OpStatus, v))
}

// PutReplica writes a replica version or delete marker keeping the source's version id
// and last-modified time, with replication status REPLICA. Versions of a key stay
// ordered by the source's order (the version id's order) even when an older replica
// arrives after a newer one. Writing a version id that already exists replaces it
// (idempotent re-run). Journaled (bbproto.OpPut or bbproto.OpDeleteMarker, status REPLICA; bbproto.OpMetadata for
// MetadataOnly). The bucket must have versioning Enabled (ErrVersioningNotEnabled), except
// for MetadataOnly.
func (s *Store) PutReplica(ctx context.Context, in ReplicaInput) (*Version, error) {
	if err := checkReplica(&in); err != nil {
		return nil, err
	}
	var (
		out     *Version
		removed []string
	)
	err := s.update(ctx, func(w *wtx) error {
		b, d, err := w.bucket(in.Bucket)
		if err != nil {
			return err
		}
		if in.MetadataOnly {
			order := d.resolveOrder(in.Key, in.VersionID)
			if order == "" {
				return fmt.Errorf("%w: %s/%s version %s", ErrNoSuchVersion, in.Bucket, in.Key, in.VersionID)
			}
			v, err := d.version(in.Key, order)
			if err != nil {
				return err
			}
			if err := checkReplicaOf(v, &in); err != nil {
				return err
			}
			v.Meta = in.Meta
			if err := w.putVersion(d, in.Key, order, v); err != nil {
				return err
			}
			out = v
			return w.appendRecord(recordOf(bbproto.OpMetadata, v))
		}
		v := &Version{
			Bucket:         in.Bucket,
			Key:            in.Key,
			VersionID:      in.VersionID,
			IsDeleteMarker: in.IsDeleteMarker,
			Size:           in.Size,
			ETag:           in.ETag,
			LastModified:   in.LastModified.UTC(),
			Owner:          in.Owner,
			Meta:           in.Meta,
			Parts:          in.Parts,
		}
		if len(v.Parts) > 0 {
			v.Size = partsSize(v.Parts)
		}
		removed, err = w.writeReplica(b, d, v, &in)
		out = v
		return err
	})
	if err != nil {
		return nil, err
	}
	s.removeBlobs(removed)
	return out, nil
}

// checkReplica validates a ReplicaInput.
func checkReplica(in *ReplicaInput) error {
	if err := checkKey(in.Key); err != nil {
		return err
	}
	if in.VersionID == "" || len(in.VersionID) > 1024 || bytes.IndexByte([]byte(in.VersionID), 0) >= 0 {
		return fmt.Errorf("%w: replica version id %q", ErrInvalidKey, in.VersionID)
	}
	return nil
}

// checkReplicaOf refuses (ReplicaConflictError) to let the replica in replace old unless
// old is a replica of the same source. Replicas written before sources were recorded
// have none: they are compatible with any source.
func checkReplicaOf(old *Version, in *ReplicaInput) error {
	r := old.Replication
	conflict := &ReplicaConflictError{Bucket: old.Bucket, Key: old.Key, VersionID: old.VersionID}
	if r == nil || r.Status != bbproto.StatusReplica {
		return conflict
	}
	if r.SourceBucket == "" && r.SourceAccount == "" {
		return nil
	}
	if r.SourceBucket != in.SourceBucket || r.SourceAccount != in.SourceAccount {
		conflict.Replica, conflict.SourceBucket, conflict.SourceAccount = true, r.SourceBucket, r.SourceAccount
		return conflict
	}
	return nil
}

// writeReplica writes v (VersionID, LastModified... set) as the replica described by in,
// replacing a replica of the same id and source (ReplicaConflictError for any other
// version of that id), and journals it. It returns the blobs no longer referenced.
func (w *wtx) writeReplica(b *Bucket, d *bucketData, v *Version, in *ReplicaInput) ([]string, error) {
	src := in.Source
	if b.Versioning != VersioningEnabled {
		return nil, fmt.Errorf("%w: bucket %s cannot receive replicas", ErrVersioningNotEnabled, b.Name)
	}
	if v.LastModified.IsZero() {
		v.LastModified = w.now()
	}
	order := v.VersionID
	if !isGenID(order) {
		order = derivedOrder(v.VersionID, v.LastModified)
	}
	var removed []string
	oldOrder := d.resolveOrder(v.Key, v.VersionID)
	var old *Version
	if oldOrder != "" {
		var err error
		if old, err = d.version(v.Key, oldOrder); err != nil {
			return nil, err
		}
		if err := checkReplicaOf(old, in); err != nil {
			return nil, err
		}
	}
	r := &Replication{}
	if src != nil {
		*r = *src
		r.Content = slices.Clone(src.Content)
	}
	r.Status = bbproto.StatusReplica
	r.Reason = ""
	r.SourceBucket, r.SourceAccount = in.SourceBucket, in.SourceAccount
	v.Replication = r
	if old != nil {
		removed = unusedBlobs(old, v)
		if oldOrder != order {
			if err := w.delVersion(d, v.Key, oldOrder); err != nil {
				return nil, err
			}
		}
	}
	if err := w.writeVersion(d, v, order); err != nil {
		return nil, err
	}
	lorder, _ := d.latest(v.Key)
	v.IsLatest = lorder == order
	op := bbproto.OpPut
	if v.IsDeleteMarker {
		op = bbproto.OpDeleteMarker
	}
	return removed, w.appendRecord(recordOf(op, v))
}

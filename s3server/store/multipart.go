package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"cmp"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// MaxPartNumber is the highest part number of a multipart upload (as S3).
const MaxPartNumber = 10000

// partKey is the db key of part number n of upload id.
func partKey(uploadID string, n int) []byte {
	k := make([]byte, len(uploadID)+4)
	copy(k, uploadID)
	binary.BigEndian.PutUint32(k[len(uploadID):], uint32(n))
	return k
}

// upload returns upload id of bucket/key: ErrNoSuchUpload when absent or for another key.
func (d *bucketData) upload(bucket, key, id string) (*Upload, error) {
	raw := d.uploads.Get([]byte(id))
	if raw == nil {
		return nil, fmt.Errorf("%w: %s on %s/%s", ErrNoSuchUpload, id, bucket, key)
	}
	up := new(Upload)
	if err := json.Unmarshal(raw, up); err != nil {
		return nil, fmt.Errorf("store: decode upload %s: %w", id, err)
	}
	if up.Key != key {
		return nil, fmt.Errorf("%w: %s on %s/%s", ErrNoSuchUpload, id, bucket, key)
	}
	return up, nil
}

// uploadParts returns the parts of upload id sorted by number, with their db keys.
func (d *bucketData) uploadParts(id string) ([]UploadPart, [][]byte, error) {
	var (
		parts []UploadPart
		keys  [][]byte
	)
	prefix := []byte(id)
	c := d.parts.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && len(k) == len(prefix)+4; k, v = c.Next() {
		var p UploadPart
		if err := json.Unmarshal(v, &p); err != nil {
			return nil, nil, fmt.Errorf("store: decode part of upload %s: %w", id, err)
		}
		parts = append(parts, p)
		keys = append(keys, bytes.Clone(k))
	}
	return parts, keys, nil
}

// CreateUpload starts a multipart upload and returns it. Not journaled: only the
// completed version is.
func (s *Store) CreateUpload(ctx context.Context, bucket, key, owner string, meta ObjectMeta) (*Upload, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var out *Upload
	err := s.update(ctx, func(w *wtx) error {
		_, d, err := w.bucket(bucket)
		if err != nil {
			return err
		}
		up := &Upload{ID: randomHex(16), Bucket: bucket, Key: key, Owner: owner, Initiated: w.now(), Meta: meta}
		if err := w.putJSON(d.uploads, []byte(up.ID), up); err != nil {
			return err
		}
		out = up
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetUpload returns an upload or ErrNoSuchUpload (also when bucket/key do not match).
func (s *Store) GetUpload(ctx context.Context, bucket, key, uploadID string) (*Upload, error) {
	var out *Upload
	err := s.view(ctx, func(tx *bolt.Tx) error {
		d, err := openBucketData(tx.Bucket(bktData), bucket)
		if err != nil {
			return err
		}
		out, err = d.upload(bucket, key, uploadID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// PutPart records a part (a committed blob), replacing a previous part of that number
// (whose blob the store removes). Part numbers are 1 to MaxPartNumber (ErrInvalidPart
// otherwise). A zero LastModified is set to now. Not journaled.
func (s *Store) PutPart(ctx context.Context, bucket, key, uploadID string, part UploadPart) error {
	if part.Number < 1 || part.Number > MaxPartNumber {
		return fmt.Errorf("%w: part number %d is not between 1 and %d", ErrInvalidPart, part.Number, MaxPartNumber)
	}
	var removed []string
	err := s.update(ctx, func(w *wtx) error {
		removed = nil
		_, d, err := w.bucket(bucket)
		if err != nil {
			return err
		}
		if _, err := d.upload(bucket, key, uploadID); err != nil {
			return err
		}
		pk := partKey(uploadID, part.Number)
		if raw := d.parts.Get(pk); raw != nil {
			var old UploadPart
			if err := json.Unmarshal(raw, &old); err != nil {
				return fmt.Errorf("store: decode part of upload %s: %w", uploadID, err)
			}
			if old.Blob != part.Blob {
				removed = append(removed, old.Blob)
			}
		}
		p := part
		if p.LastModified.IsZero() {
			p.LastModified = w.now()
		}
		return w.putJSON(d.parts, pk, &p)
	})
	if err != nil {
		return err
	}
	s.removeBlobs(removed)
	return nil
}

// ListParts returns the upload's parts sorted by number.
func (s *Store) ListParts(ctx context.Context, bucket, key, uploadID string) ([]UploadPart, error) {
	var out []UploadPart
	err := s.view(ctx, func(tx *bolt.Tx) error {
		d, err := openBucketData(tx.Bucket(bktData), bucket)
		if err != nil {
			return err
		}
		if _, err := d.upload(bucket, key, uploadID); err != nil {
			return err
		}
		out, _, err = d.uploadParts(uploadID)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListUploads returns the bucket's uploads in progress sorted by key then initiation.
func (s *Store) ListUploads(ctx context.Context, bucket string) ([]*Upload, error) {
	var out []*Upload
	err := s.view(ctx, func(tx *bolt.Tx) error {
		d, err := openBucketData(tx.Bucket(bktData), bucket)
		if err != nil {
			return err
		}
		return d.uploads.ForEach(func(k, v []byte) error {
			up := new(Upload)
			if err := json.Unmarshal(v, up); err != nil {
				return fmt.Errorf("store: decode upload %s: %w", k, err)
			}
			out = append(out, up)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b *Upload) int {
		return cmp.Or(strings.Compare(a.Key, b.Key), a.Initiated.Compare(b.Initiated), strings.Compare(a.ID, b.ID))
	})
	return out, nil
}

// normETag strips quotes from an ETag and lower-cases it.
func normETag(s string) string { return strings.ToLower(strings.Trim(s, `"`)) }

// CompleteUpload checks parts (ascending numbers: ErrInvalidPartOrder; each must exist
// with that ETag: ErrInvalidPart; all but the last ≥ MinPartSize: ErrEntityTooSmall),
// writes the version exactly like PutObject (ETag "md5-of-md5s-N"), removes the upload
// and the blobs of parts not used. Journaled (bbproto.OpPut). With replica non-nil the version is
// written as PutReplica writes it (replica's VersionID, LastModified, Meta, Source; its
// Parts/ETag/Size are ignored and taken from the upload), for large replicas sent in parts.
func (s *Store) CompleteUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, replica *ReplicaInput) (*Version, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	if err := checkPartOrder(parts); err != nil {
		return nil, err
	}
	write := writeUploadAsNew(uploadID)
	if replica != nil {
		r := *replica
		r.Bucket, r.Key, r.MetadataOnly = bucket, key, false
		if err := checkReplica(&r); err != nil {
			return nil, err
		}
		write = writeUploadAsReplica(&r)
	}
	out, err := s.completeUpload(ctx, bucket, key, uploadID, parts, write)
	if err != nil {
		return nil, err
	}
	if replica == nil {
		out.IsLatest = true
	}
	return out, nil
}

// checkPartOrder requires at least one part, in strictly ascending part numbers.
func checkPartOrder(parts []CompletePart) error {
	if len(parts) == 0 {
		return fmt.Errorf("%w: no parts", ErrInvalidPart)
	}
	for i := 1; i < len(parts); i++ {
		if parts[i].Number <= parts[i-1].Number {
			return fmt.Errorf("%w: part %d after part %d", ErrInvalidPartOrder, parts[i].Number, parts[i-1].Number)
		}
	}
	return nil
}

// uploadWriter writes the version v assembled from upload up's parts, through putVersion
// (writeNew or writeReplica), and returns the blobs it replaced.
type uploadWriter func(w *wtx, b *Bucket, d *bucketData, v *Version, up *Upload) (replaced []string, err error)

// writeUploadAsNew writes the version as a client's new version of the key (PutObject's
// way), remembering uploadID for CompletedUpload.
func writeUploadAsNew(uploadID string) uploadWriter {
	return func(w *wtx, b *Bucket, d *bucketData, v *Version, _ *Upload) ([]string, error) {
		v.LastModified = w.now()
		v.UploadID = uploadID
		return w.writeNew(b, d, v, bbproto.OpPut)
	}
}

// writeUploadAsReplica writes the version as PutReplica writes in (checked): in's
// VersionID, LastModified, Meta, Owner (the upload's if empty) and ETag (the parts' if empty).
func writeUploadAsReplica(in *ReplicaInput) uploadWriter {
	return func(w *wtx, b *Bucket, d *bucketData, v *Version, up *Upload) ([]string, error) {
		v.VersionID = in.VersionID
		v.ETag = cmp.Or(in.ETag, v.ETag)
		v.LastModified = in.LastModified.UTC()
		v.Owner = cmp.Or(in.Owner, up.Owner)
		v.Meta = in.Meta
		return w.writeReplica(b, d, v, in)
	}
}

// completeUpload assembles upload uploadID's parts into a version, writes it with write,
// removes the upload and its part records in the same transaction, then the blobs of the
// parts not used and those the version replaced.
func (s *Store) completeUpload(ctx context.Context, bucket, key, uploadID string, parts []CompletePart, write uploadWriter) (*Version, error) {
	var (
		out     *Version
		removed []string
	)
	err := s.update(ctx, func(w *wtx) error {
		removed = nil
		b, d, err := w.bucket(bucket)
		if err != nil {
			return err
		}
		up, err := d.upload(bucket, key, uploadID)
		if err != nil {
			return err
		}
		have, keys, err := d.uploadParts(uploadID)
		if err != nil {
			return err
		}
		used, etag, err := assembleParts(parts, have)
		if err != nil {
			return err
		}
		v := &Version{
			Bucket: bucket,
			Key:    key,
			Size:   partsSize(used),
			ETag:   etag,
			Owner:  up.Owner,
			Meta:   up.Meta,
			Parts:  used,
		}
		replaced, err := write(w, b, d, v, up)
		if err != nil {
			return err
		}
		for _, p := range have {
			if !slices.ContainsFunc(used, func(u Part) bool { return u.Blob == p.Blob }) {
				removed = append(removed, p.Blob)
			}
		}
		removed = append(removed, replaced...)
		for _, k := range keys {
			if err := w.del(d.parts, k); err != nil {
				return err
			}
		}
		out = v
		return w.del(d.uploads, []byte(uploadID))
	})
	if err != nil {
		return nil, err
	}
	s.removeBlobs(removed)
	return out, nil
}

// assembleParts matches the parts a client lists against the parts uploaded (have): each
// must exist with that ETag, all but the last be at least MinPartSize. It returns the
// version's parts and its ETag, the MD5 of the parts' MD5s followed by "-" and their count.
func assembleParts(parts []CompletePart, have []UploadPart) (used []Part, etag string, err error) {
	byNum := make(map[int]UploadPart, len(have))
	for _, p := range have {
		byNum[p.Number] = p
	}
	used = make([]Part, 0, len(parts))
	sums := make([]byte, 0, len(parts)*md5.Size)
	for _, cp := range parts {
		p, ok := byNum[cp.Number]
		if !ok {
			return nil, "", fmt.Errorf("%w: part %d was not uploaded", ErrInvalidPart, cp.Number)
		}
		if normETag(cp.ETag) != normETag(p.ETag) {
			return nil, "", fmt.Errorf("%w: part %d has ETag %q, not %q", ErrInvalidPart, cp.Number, p.ETag, normETag(cp.ETag))
		}
		sum, err := hex.DecodeString(normETag(p.ETag))
		if err != nil || len(sum) != md5.Size {
			return nil, "", fmt.Errorf("%w: part %d has a malformed ETag %q", ErrInvalidPart, cp.Number, p.ETag)
		}
		sums = append(sums, sum...)
		used = append(used, Part{Blob: p.Blob, Size: p.Size, ETag: normETag(p.ETag)})
	}
	for i, p := range used[:len(used)-1] {
		if p.Size < MinPartSize {
			return nil, "", fmt.Errorf("%w: part %d is %d bytes, the minimum is %d", ErrEntityTooSmall, parts[i].Number, p.Size, MinPartSize)
		}
	}
	sum := md5.Sum(sums)
	return used, hex.EncodeToString(sum[:]) + "-" + strconv.Itoa(len(used)), nil
}

// CompletedUpload returns the version of key that a client's CompleteUpload of uploadID
// wrote, while it exists: ErrNoSuchUpload otherwise (never completed, aborted, or the
// version was deleted since).
func (s *Store) CompletedUpload(ctx context.Context, bucket, key, uploadID string) (*Version, error) {
	if err := checkKey(key); err != nil {
		return nil, err
	}
	var out *Version
	err := s.WalkVersions(ctx, bucket, WalkOptions{Prefix: key}, func(v *Version) bool {
		if v.Key != key {
			return false
		}
		if uploadID != "" && v.UploadID == uploadID {
			out = v
			return false
		}
		return true
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoSuchUpload, uploadID)
	}
	return out, nil
}

// AbortUpload removes an upload and its part blobs.
func (s *Store) AbortUpload(ctx context.Context, bucket, key, uploadID string) error {
	var removed []string
	err := s.update(ctx, func(w *wtx) error {
		removed = nil
		_, d, err := w.bucket(bucket)
		if err != nil {
			return err
		}
		if _, err := d.upload(bucket, key, uploadID); err != nil {
			return err
		}
		have, keys, err := d.uploadParts(uploadID)
		if err != nil {
			return err
		}
		for i, k := range keys {
			removed = append(removed, have[i].Blob)
			if err := w.del(d.parts, k); err != nil {
				return err
			}
		}
		return w.del(d.uploads, []byte(uploadID))
	})
	if err != nil {
		return err
	}
	s.removeBlobs(removed)
	return nil
}

package activities

import (
	"github.com/backbeat-temporal/backbeat/bbproto"
	"github.com/backbeat-temporal/backbeat/bbproto/bbclient"

	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/backbeat-temporal/backbeat/contract"
)

// s3serverTarget writes replicas to an s3server through its privileged routes.
type s3serverTarget struct {
	bb *bbclient.Client
}

// setSource names the source of a replica write (bucket, owning account, server): the
// target checks that the destination bucket's owner consents to it.
func setSource(h http.Header, j *job) {
	h.Set(bbproto.HeaderSourceBucket, j.rec.Bucket)
	if j.src.BucketOwner != "" {
		h.Set(bbproto.HeaderSourceAccount, j.src.BucketOwner)
	}
	if j.src.JournalID != "" {
		h.Set(bbproto.HeaderSourceJournal, j.src.JournalID)
	}
}

// version returns the target's version id of j.key, nil when absent.
func (t *s3serverTarget) version(ctx context.Context, j *job, versionID string) (*bbproto.Version, error) {
	v, err := t.bb.Version(ctx, j.bucket, j.key, versionID)
	if err != nil {
		switch s3Code(err) {
		case "NoSuchVersion", "NoSuchKey":
			return nil, nil
		}
		return nil, classify(err, j.targetSide(), fmt.Sprintf("check the target version %s of %s/%s", versionID, j.bucket, j.key))
	}
	return v, nil
}

// replicaHeader is the header of a replica write of j.src.
func (t *s3serverTarget) replicaHeader(j *job, meta bool) http.Header {
	h := http.Header{}
	if meta {
		h = metaHeader(j.src.Meta)
	}
	h.Set(bbproto.HeaderVersionID, j.src.VersionID)
	h.Set(bbproto.HeaderLastModified, j.src.LastModified.UTC().Format(time.RFC3339Nano))
	setSource(h, j)
	if rp := j.rec.Replication; rp != nil {
		if data, err := json.Marshal(rp); err == nil {
			h.Set(bbproto.HeaderSourceReplication, string(data))
		}
	}
	return h
}

// sameData tells whether the target version cur holds the data of src: same size and
// ETag, or a multipart ETag for a single-part source (copied by parts, above the
// threshold, before replicas kept the source's ETag).
func sameData(cur, src *bbproto.Version) bool {
	if cur.IsDeleteMarker || cur.Size != src.Size {
		return false
	}
	return cur.ETag == src.ETag || (!isMultipartETag(src.ETag) && isMultipartETag(cur.ETag))
}

func (t *s3serverTarget) replicate(ctx context.Context, j *job) (Result, error) {
	cur, err := t.version(ctx, j, j.src.VersionID)
	if err != nil {
		return Result{}, err
	}
	if cur != nil && sameData(cur, j.src) {
		if metaEqual(cur.Meta, j.src.Meta) {
			return Result{Action: ActionAlreadyPresent}, nil
		}
		if err := t.putMetadata(ctx, j); err != nil {
			return Result{}, err
		}
		return Result{Action: ActionMetadata}, nil
	}
	switch {
	case cur != nil:
		// The target refuses (409 ReplicaConflict) unless it is a replica of this source.
		j.log.Warn("the target holds another object under this version id: replacing it if it is a replica of this source",
			"targetETag", cur.ETag, "targetSize", cur.Size, "sourceETag", j.src.ETag, "sourceSize", j.src.Size)
	case j.metadataOnly:
		j.log.Info("metadata-only entry but the target lacks the version: copying data and metadata")
	}
	if sizes := j.layout(); sizes != nil {
		return j.copyParts(ctx, t, sizes)
	}
	return t.putReplica(ctx, j)
}

// putMetadata replaces the metadata of the existing replica.
func (t *s3serverTarget) putMetadata(ctx context.Context, j *job) error {
	h := t.replicaHeader(j, true)
	h.Set(bbproto.HeaderMetadataOnly, "true")
	_, err := t.bb.PutReplica(ctx, j.bucket, j.key, h, nil, 0)
	return classify(err, j.targetSide(), fmt.Sprintf("update the metadata of %s/%s version %s", j.bucket, j.key, j.src.VersionID))
}

// putReplica writes the data and metadata of j.src with one streamed PUT.
func (t *s3serverTarget) putReplica(ctx context.Context, j *job) (Result, error) {
	what := fmt.Sprintf("write the replica %s/%s version %s", j.bucket, j.key, j.src.VersionID)
	var body io.Reader = http.NoBody
	h := &lockedHash{h: md5.New()}
	if j.src.Size > 0 {
		src, err := j.openSource(ctx, 0, j.src.Size)
		if err != nil {
			return Result{}, err
		}
		defer src.Close()
		body = j.stream(io.TeeReader(src, h))
	}
	v, err := t.bb.PutReplica(ctx, j.bucket, j.key, t.replicaHeader(j, true), body, j.src.Size)
	if err != nil {
		return Result{}, classify(err, j.targetSide(), what)
	}
	if !isMultipartETag(j.src.ETag) && v.ETag != j.src.ETag {
		return Result{}, newError(contract.KindRetryable, fmt.Sprintf("%s: the target stored ETag %s, the source has %s (data changed in transit)", what, v.ETag, j.src.ETag), nil)
	}
	return Result{Action: ActionCopied, Bytes: j.src.Size}, nil
}

func (t *s3serverTarget) deleteMarker(ctx context.Context, j *job) (Result, error) {
	cur, err := t.version(ctx, j, j.src.VersionID)
	if err != nil {
		return Result{}, err
	}
	if cur != nil && cur.IsDeleteMarker {
		return Result{Action: ActionAlreadyPresent}, nil
	}
	h := t.replicaHeader(j, false)
	h.Set(bbproto.HeaderDeleteMarker, "true")
	_, err = t.bb.PutReplica(ctx, j.bucket, j.key, h, nil, 0)
	if err != nil {
		return Result{}, classify(err, j.targetSide(), fmt.Sprintf("write the delete marker %s/%s version %s", j.bucket, j.key, j.src.VersionID))
	}
	return Result{Action: ActionDeleteMarker}, nil
}

// --- multipart replicas (multipartWriter) ---

func (t *s3serverTarget) create(ctx context.Context, j *job) (string, error) {
	h := metaHeader(j.src.Meta)
	setSource(h, j)
	id, err := t.bb.CreateUpload(ctx, j.bucket, j.key, h)
	if err != nil {
		return "", classify(err, j.targetSide(), fmt.Sprintf("start the multipart replica %s/%s", j.bucket, j.key))
	}
	return id, nil
}

func (t *s3serverTarget) listParts(ctx context.Context, j *job, uploadID string) ([]PartDone, error) {
	parts, err := t.bb.ListParts(ctx, j.bucket, j.key, uploadID)
	if err != nil {
		if s3Code(err) == "NoSuchUpload" {
			return nil, errUploadGone
		}
		return nil, classify(err, j.targetSide(), fmt.Sprintf("list the parts of upload %s of %s/%s", uploadID, j.bucket, j.key))
	}
	out := make([]PartDone, len(parts))
	for i, p := range parts {
		out[i] = PartDone{Number: p.Number, ETag: p.ETag, Size: p.Size}
	}
	return out, nil
}

func (t *s3serverTarget) putPart(ctx context.Context, j *job, uploadID string, n int, body io.Reader, size int64, md5hex func() string) (string, error) {
	what := fmt.Sprintf("upload part %d of %s/%s", n, j.bucket, j.key)
	out, err := t.bb.PutPart(ctx, j.bucket, j.key, uploadID, n, body, size)
	if err != nil {
		return "", classify(err, j.targetSide(), what)
	}
	if sum := md5hex(); out.ETag != sum || out.Size != size {
		return "", newError(contract.KindRetryable, fmt.Sprintf("%s: the target stored %d bytes with ETag %s, sent %d bytes with MD5 %s", what, out.Size, out.ETag, size, sum), nil)
	}
	return out.ETag, nil
}

func (t *s3serverTarget) complete(ctx context.Context, j *job, uploadID string, parts []PartDone) error {
	done := make([]bbproto.UploadPart, len(parts))
	for i, p := range parts {
		done[i] = bbproto.UploadPart{Number: p.Number, ETag: p.ETag}
	}
	// No Content-Type of its own: the complete's content headers are the replica's.
	h := t.replicaHeader(j, true)
	if !isMultipartETag(j.src.ETag) {
		// A single-PUT source copied by parts keeps its ETag (the object's MD5) on the
		// target, as the plain replica route does for a single part.
		h.Set(bbproto.HeaderETag, j.src.ETag)
	}
	v, err := t.bb.CompleteUpload(ctx, j.bucket, j.key, uploadID, h, done)
	if err != nil {
		if s3Code(err) == "NoSuchUpload" {
			// Completed by an attempt that died before saying so, or aborted: the next
			// attempt checks the target version first.
			return newError(contract.KindRetryable, fmt.Sprintf("complete the multipart replica %s/%s", j.bucket, j.key), errUploadGone)
		}
		return classify(err, j.targetSide(), fmt.Sprintf("complete the multipart replica %s/%s", j.bucket, j.key))
	}
	if isMultipartETag(j.src.ETag) && len(j.src.Parts) == len(parts) && v.ETag != j.src.ETag {
		return newError(contract.KindRetryable, fmt.Sprintf("complete the multipart replica %s/%s: ETag %s, the source has %s", j.bucket, j.key, v.ETag, j.src.ETag), nil)
	}
	return nil
}

func (t *s3serverTarget) abort(ctx context.Context, j *job, uploadID string) error {
	err := t.bb.AbortUpload(ctx, j.bucket, j.key, uploadID)
	if err != nil && !errors.Is(err, errUploadGone) && s3Code(err) != "NoSuchUpload" {
		return err
	}
	return nil
}

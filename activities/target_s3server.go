package activities

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/backbeat-temporal/backbeat/contract"
)

// s3serverTarget writes replicas to an s3server through its privileged routes.
type s3serverTarget struct {
	bb *bbClient
}

// Headers of s3server's replica writes (see s3server/backbeat.go).
const (
	hdrVersionID         = "X-Backbeat-Version-Id"
	hdrLastModified      = "X-Backbeat-Last-Modified"
	hdrDeleteMarker      = "X-Backbeat-Delete-Marker"
	hdrMetadataOnly      = "X-Backbeat-Metadata-Only"
	hdrSourceReplication = "X-Backbeat-Source-Replication"
	hdrSourceBucket      = "X-Backbeat-Source-Bucket"
	hdrSourceAccount     = "X-Backbeat-Source-Account"
	hdrSourceJournal     = "X-Backbeat-Source-Journal-Id"
)

// setSource names the source of a replica write (bucket, owning account, server): the
// target checks that the destination bucket's owner consents to it.
func setSource(h http.Header, j *job) {
	h.Set(hdrSourceBucket, j.rec.Bucket)
	if j.src.BucketOwner != "" {
		h.Set(hdrSourceAccount, j.src.BucketOwner)
	}
	if j.src.JournalID != "" {
		h.Set(hdrSourceJournal, j.src.JournalID)
	}
}

// version returns the target's version id of j.key, nil when absent.
func (t *s3serverTarget) version(ctx context.Context, j *job, versionID string) (*versionInfo, error) {
	var v versionInfo
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodGet, route: "version", bucket: j.bucket, key: j.key,
		query: url.Values{"versionId": {versionID}}}, &v)
	if err != nil {
		switch s3Code(err) {
		case "NoSuchVersion", "NoSuchKey":
			return nil, nil
		}
		return nil, classify(err, j.targetSide(), fmt.Sprintf("check the target version %s of %s/%s", versionID, j.bucket, j.key))
	}
	return &v, nil
}

// replicaHeader is the header of a replica write of j.src.
func (t *s3serverTarget) replicaHeader(j *job, meta bool) http.Header {
	h := http.Header{}
	if meta {
		h = j.src.Meta.header()
	}
	h.Set(hdrVersionID, j.src.VersionID)
	h.Set(hdrLastModified, j.src.LastModified.UTC().Format(time.RFC3339Nano))
	setSource(h, j)
	if rp := j.rec.Replication; rp != nil {
		if data, err := json.Marshal(rp); err == nil {
			h.Set(hdrSourceReplication, string(data))
		}
	}
	return h
}

// sameData tells whether the target version cur holds the data of src: same size and
// ETag, or a multipart ETag for a single-part source (copied by parts, above the
// threshold).
func sameData(cur, src *versionInfo) bool {
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
		if cur.Meta.equal(j.src.Meta) {
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
	h.Set(hdrMetadataOnly, "true")
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodPut, route: "replica", bucket: j.bucket, key: j.key,
		header: h, body: http.NoBody}, nil)
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
	var v versionInfo
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodPut, route: "replica", bucket: j.bucket, key: j.key,
		header: t.replicaHeader(j, true), body: body, length: j.src.Size}, &v)
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
	h.Set(hdrDeleteMarker, "true")
	err = t.bb.doJSON(ctx, bbRequest{method: http.MethodPut, route: "replica", bucket: j.bucket, key: j.key,
		header: h, body: http.NoBody}, nil)
	if err != nil {
		return Result{}, classify(err, j.targetSide(), fmt.Sprintf("write the delete marker %s/%s version %s", j.bucket, j.key, j.src.VersionID))
	}
	return Result{Action: ActionDeleteMarker}, nil
}

// --- multipart replicas (multipartWriter) ---

func (t *s3serverTarget) create(ctx context.Context, j *job) (string, error) {
	var out struct {
		UploadID string `json:"uploadId"`
	}
	h := j.src.Meta.header()
	setSource(h, j)
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodPost, route: "replica", bucket: j.bucket, key: j.key,
		query: url.Values{"uploads": {""}}, header: h, body: http.NoBody}, &out)
	if err != nil {
		return "", classify(err, j.targetSide(), fmt.Sprintf("start the multipart replica %s/%s", j.bucket, j.key))
	}
	if out.UploadID == "" {
		return "", newError(contract.KindRetryable, "start the multipart replica: the target answered no uploadId", nil)
	}
	return out.UploadID, nil
}

func (t *s3serverTarget) listParts(ctx context.Context, j *job, uploadID string) ([]PartDone, error) {
	var out struct {
		Parts []PartDone `json:"parts"`
	}
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodGet, route: "replica", bucket: j.bucket, key: j.key,
		query: url.Values{"uploadId": {uploadID}}}, &out)
	if err != nil {
		if s3Code(err) == "NoSuchUpload" {
			return nil, errUploadGone
		}
		return nil, classify(err, j.targetSide(), fmt.Sprintf("list the parts of upload %s of %s/%s", uploadID, j.bucket, j.key))
	}
	return out.Parts, nil
}

func (t *s3serverTarget) putPart(ctx context.Context, j *job, uploadID string, n int, body io.Reader, size int64, md5hex func() string) (string, error) {
	what := fmt.Sprintf("upload part %d of %s/%s", n, j.bucket, j.key)
	var out PartDone
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodPut, route: "replica", bucket: j.bucket, key: j.key,
		query: url.Values{"uploadId": {uploadID}, "partNumber": {strconv.Itoa(n)}}, body: body, length: size}, &out)
	if err != nil {
		return "", classify(err, j.targetSide(), what)
	}
	if sum := md5hex(); out.ETag != sum || out.Size != size {
		return "", newError(contract.KindRetryable, fmt.Sprintf("%s: the target stored %d bytes with ETag %s, sent %d bytes with MD5 %s", what, out.Size, out.ETag, size, sum), nil)
	}
	return out.ETag, nil
}

func (t *s3serverTarget) complete(ctx context.Context, j *job, uploadID string, parts []PartDone) error {
	type part struct {
		Number int    `json:"number"`
		ETag   string `json:"etag"`
	}
	body := struct {
		Parts []part `json:"parts"`
	}{}
	for _, p := range parts {
		body.Parts = append(body.Parts, part{p.Number, p.ETag})
	}
	data, err := json.Marshal(body)
	if err != nil {
		return fmt.Errorf("encode the parts: %w", err)
	}
	// No Content-Type of its own: the complete's content headers are the replica's.
	h := t.replicaHeader(j, true)
	var v versionInfo
	err = t.bb.doJSON(ctx, bbRequest{method: http.MethodPost, route: "replica", bucket: j.bucket, key: j.key,
		query: url.Values{"uploadId": {uploadID}}, header: h, body: bytes.NewReader(data), length: int64(len(data))}, &v)
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
	err := t.bb.doJSON(ctx, bbRequest{method: http.MethodDelete, route: "replica", bucket: j.bucket, key: j.key,
		query: url.Values{"uploadId": {uploadID}}}, nil)
	if err != nil && !errors.Is(err, errUploadGone) && s3Code(err) != "NoSuchUpload" {
		return err
	}
	return nil
}

package activities

import (
	"github.com/backbeat-temporal/backbeat/bbproto"
	"maps"

	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/backbeat-temporal/backbeat/contract"
)

// User metadata that a plain S3 target's objects carry (x-amz-meta-<name>), since such
// a target cannot keep the source's version id.
const (
	// MetaSourceVersionID is the source version id of the object: the target holds
	// the version when its latest version carries it.
	MetaSourceVersionID = "backbeat-source-version-id"
	// MetaSourceLastModified is the source version's last-modified time (RFC 3339): a
	// replay of an older source version never replaces a newer one.
	MetaSourceLastModified = "backbeat-source-last-modified"
	// MetaSourceMeta is a digest of the source's content headers and user metadata:
	// when it differs, a metadata-only entry rewrites them.
	MetaSourceMeta = "backbeat-source-meta"
)

// s3Target writes to any S3 with the plain API.
//
// What a plain S3 target cannot do like an s3server: keep the source's version id and
// last-modified time (they are kept in user metadata, see MetaSourceVersionID); write a
// delete marker that names its source version (DeleteObject makes a new one, and a key
// whose latest version is a delete marker is taken as replicated); change user metadata
// or content headers without a new version (a metadata-only change of those is a
// CopyObject of the object onto itself, REPLACE: a new target version, the data copied
// by the target itself, never by the worker; tags alone go by PutObjectTagging on the
// existing version); put a version anywhere but on top: what it writes becomes the
// latest.
//
// Which version the target holds is checked exactly: the target version whose
// MetaSourceVersionID is the source version id (and of the same size). A HEAD of the
// key answers in the usual cases (the latest holds it; the latest replicates an older
// source version, or the key is new: write). Otherwise the target's versions of the key
// are listed, newest first, and HEADed down to the first one that replicates an older
// source version (versions are written in source order, so the source version cannot be
// below it).
//
// Nothing is written that would move the key back in time: when the target's latest
// replicates a newer source version, or is a delete marker of a deletion that came
// after the source version (asked to the source), writing the older version would make
// it the latest and bring back replaced or deleted data. Such a version cannot be held
// by a plain S3 target: its entry ends FAILED (contract.KindNonRetryable) with a reason that says
// so; the target's current object is right and nothing is to be done unless that
// version's history is wanted on the target (then copy it by hand). COMPLETED always
// means that the target holds the version's data and metadata.
type s3Target struct {
	c   *s3.Client
	src *s3.Client // the source, to order delete markers
}

// maxScannedVersions bounds the target versions one check HEADs.
const maxScannedVersions = 100

// s3Version is what the target holds under one version (or the latest) of the key.
type s3Version struct {
	absent, deleteMarker bool
	versionID            string
	srcVersionID         string
	srcLastModified      time.Time
	metaDigest           string
	size                 int64
}

// head HEADs a target version of j.key (versionID "": the latest).
func (t *s3Target) head(ctx context.Context, j *job, versionID string) (s3Version, error) {
	out, err := t.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key), VersionId: optString(versionID)})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusNotFound || re.HTTPStatusCode() == http.StatusMethodNotAllowed) {
			// A missing bucket is also a 404 without a code here: the write says which.
			return s3Version{absent: true, versionID: versionID, deleteMarker: re.Response.Header.Get("x-amz-delete-marker") == "true"}, nil
		}
		return s3Version{}, classify(err, j.targetSide(), fmt.Sprintf("check the target object %s/%s", j.bucket, j.key))
	}
	v := s3Version{versionID: aws.ToString(out.VersionId), size: aws.ToInt64(out.ContentLength)}
	v.srcVersionID = out.Metadata[MetaSourceVersionID]
	v.metaDigest = out.Metadata[MetaSourceMeta]
	if lm := out.Metadata[MetaSourceLastModified]; lm != "" {
		v.srcLastModified, _ = time.Parse(time.RFC3339Nano, lm)
	}
	return v, nil
}

// holds tells whether v holds the data of j.src.
func (v s3Version) holds(j *job) bool {
	return !v.absent && !v.deleteMarker && v.srcVersionID == j.src.VersionID && v.size == j.src.Size
}

// older tells whether v is not a replica of a source version as new as j.src: written
// by something else (no marker), or replicating an older source version. Writing j.src
// above it moves nothing back in time.
func (v s3Version) older(j *job) bool {
	if v.srcVersionID == "" && v.srcLastModified.IsZero() {
		return true
	}
	return v.srcLastModified.Before(j.src.LastModified)
}

// scan is what the target holds of the key above the source version j.src.
type scan struct {
	match       *s3Version // the target version holding j.src, nil when none
	newer       *s3Version // the newest target version replicating a newer source version
	deleteAbove bool       // a delete marker lies above the first older version (or match)
}

// scan walks the target's versions of j.key newest first, HEADing each version, down
// to the one holding j.src or the first older one.
func (t *s3Target) scan(ctx context.Context, j *job) (scan, error) {
	var sc scan
	what := fmt.Sprintf("list the target versions of %s/%s", j.bucket, j.key)
	heads := 0
	p := s3.NewListObjectVersionsPaginator(t.c, &s3.ListObjectVersionsInput{Bucket: aws.String(j.bucket), Prefix: aws.String(j.key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return sc, classify(err, j.targetSide(), what)
		}
		// The SDK splits versions and delete markers: merge them back, newest first.
		// Listed times are coarse (milliseconds, seconds on AWS): a tie sorts the
		// version first, so an ambiguous delete marker is taken as below it (a
		// replayed delete marker may then fail, never be reported held when it is not).
		type entry struct {
			id string
			dm bool
			lm time.Time
		}
		var es []entry
		for _, v := range page.Versions {
			if aws.ToString(v.Key) == j.key {
				es = append(es, entry{id: aws.ToString(v.VersionId), lm: aws.ToTime(v.LastModified)})
			}
		}
		for _, d := range page.DeleteMarkers {
			if aws.ToString(d.Key) == j.key {
				es = append(es, entry{id: aws.ToString(d.VersionId), dm: true, lm: aws.ToTime(d.LastModified)})
			}
		}
		slices.SortStableFunc(es, func(a, b entry) int { return b.lm.Compare(a.lm) })
		for _, e := range es {
			if e.dm {
				sc.deleteAbove = true
				continue
			}
			if heads++; heads > maxScannedVersions {
				return sc, newError(contract.KindNonRetryable, fmt.Sprintf("%s: more than %d versions replicate source versions newer than %s (%s): check the target bucket's history of this key",
					what, maxScannedVersions, j.src.VersionID, j.src.LastModified.UTC().Format(time.RFC3339Nano)), nil)
			}
			v, err := t.head(ctx, j, e.id)
			if err != nil {
				return sc, err
			}
			switch {
			case v.absent: // deleted meanwhile
			case v.holds(j):
				sc.match = &v
				return sc, nil
			case v.older(j):
				return sc, nil
			case sc.newer == nil:
				sc.newer = &v
			}
		}
		if n := len(page.Versions) + len(page.DeleteMarkers); n > len(es) {
			return sc, nil // past the key's versions
		}
	}
	return sc, nil
}

// metaDigest is the digest of the content headers and user metadata of m.
func metaDigest(m bbproto.ObjectMeta) string {
	m.Tags, m.StorageClass = nil, ""
	data, _ := json.Marshal(m) // map keys are sorted
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// s3Metadata is the target's user metadata of j.src: the source's plus the markers.
func (j *job) s3Metadata() map[string]string {
	md := map[string]string{}
	for k, v := range j.src.Meta.UserMetadata {
		md[k] = v
	}
	md[MetaSourceVersionID] = j.src.VersionID
	md[MetaSourceLastModified] = j.src.LastModified.UTC().Format(time.RFC3339Nano)
	md[MetaSourceMeta] = metaDigest(j.src.Meta)
	return md
}

// expires parses an Expires header value (nil when empty or not an HTTP date).
func expires(v string) *time.Time {
	if v == "" {
		return nil
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return nil
	}
	return &t
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}

// stamp is how a reason names a source version.
func stamp(versionID string, lm time.Time) string {
	return fmt.Sprintf("%s (last modified %s)", versionID, lm.UTC().Format(time.RFC3339Nano))
}

// errSuperseded is the failure of a source version that the target cannot hold below
// what it holds.
func (j *job) errSuperseded(why string) error {
	return newError(contract.KindNonRetryable, fmt.Sprintf("%s/%s: source version %s not replicated: %s; a plain S3 target writes every version on top, so writing it would make it the latest. "+
		"The target's current object is right; copy the version by hand only if its history is wanted on the target",
		j.bucket, j.key, stamp(j.src.VersionID, j.src.LastModified), why), nil)
}

func (t *s3Target) replicate(ctx context.Context, j *job) (Result, error) {
	latest, err := t.head(ctx, j, "")
	if err != nil {
		return Result{}, err
	}
	switch {
	case latest.holds(j):
		return t.updateMetadata(ctx, j, latest, true)
	case (latest.absent && !latest.deleteMarker) || (!latest.absent && latest.older(j)):
		return t.write(ctx, j)
	}
	// The latest is a delete marker or replicates a newer source version: the version
	// may be below it, or must not go on top of it.
	sc, err := t.scan(ctx, j)
	switch {
	case err != nil:
		return Result{}, err
	case sc.match != nil:
		return t.updateMetadata(ctx, j, *sc.match, false)
	case sc.newer != nil:
		return Result{}, j.errSuperseded(fmt.Sprintf("the target holds version %s replicating the newer source version %s",
			sc.newer.versionID, stamp(sc.newer.srcVersionID, sc.newer.srcLastModified)))
	}
	// The latest is a delete marker: of a deletion before or after the version?
	dm, err := t.deletedAfter(ctx, j)
	if err != nil {
		return Result{}, err
	}
	if dm != "" {
		return Result{}, j.errSuperseded(fmt.Sprintf("the key was deleted on the source after it (delete marker %s) and the target's latest is a delete marker", dm))
	}
	return t.write(ctx, j)
}

// deletedAfter returns a source delete marker of j.key newer than j.src ("" when none).
func (t *s3Target) deletedAfter(ctx context.Context, j *job) (string, error) {
	what := fmt.Sprintf("list the source versions of %s/%s", j.rec.Bucket, j.key)
	p := s3.NewListObjectVersionsPaginator(t.src, &s3.ListObjectVersionsInput{Bucket: aws.String(j.rec.Bucket), Prefix: aws.String(j.key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return "", classify(err, j.sourceSide(), what)
		}
		past := false
		for _, d := range page.DeleteMarkers {
			if aws.ToString(d.Key) != j.key {
				past = true
				continue
			}
			// Listings say milliseconds: the version route says the exact time.
			if aws.ToTime(d.LastModified).Before(j.src.LastModified.Truncate(time.Millisecond)) {
				continue
			}
			v, err := j.r.sourceVersion(ctx, j.rec.Bucket, j.key, aws.ToString(d.VersionId))
			if KindOf(err) == contract.KindSourceGone {
				continue
			}
			if err != nil {
				return "", err
			}
			if v.LastModified.After(j.src.LastModified) {
				return v.VersionID, nil
			}
		}
		for _, v := range page.Versions {
			past = past || aws.ToString(v.Key) != j.key
		}
		if past {
			break
		}
	}
	return "", nil
}

// write copies the data and metadata of j.src: it becomes the target's latest.
func (t *s3Target) write(ctx context.Context, j *job) (Result, error) {
	if j.metadataOnly {
		j.log.Info("metadata-only entry but the target lacks the version: copying data and metadata")
	}
	if sizes := j.layout(); sizes != nil {
		return j.copyParts(ctx, t, sizes)
	}
	return t.putObject(ctx, j)
}

// updateMetadata writes what differs of the tags and metadata of the target version h,
// which holds the data of j.src. Tags are set on h itself; other metadata only by a
// copy onto itself, which makes a new latest version: refused when h is not the latest.
func (t *s3Target) updateMetadata(ctx context.Context, j *job, h s3Version, latest bool) (Result, error) {
	what := fmt.Sprintf("update the metadata of %s/%s", j.bucket, j.key)
	tags, err := t.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key), VersionId: optString(h.versionID)})
	if err != nil {
		return Result{}, classify(err, j.targetSide(), what)
	}
	cur := map[string]string{}
	for _, tg := range tags.TagSet {
		cur[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	sameTags := maps.Equal(cur, j.src.Meta.Tags)
	sameMeta := h.metaDigest == metaDigest(j.src.Meta)
	switch {
	case sameTags && sameMeta:
		return Result{Action: ActionAlreadyPresent}, nil
	case sameMeta:
		set := make([]types.Tag, 0, len(j.src.Meta.Tags))
		for k, v := range j.src.Meta.Tags {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		if len(set) == 0 {
			_, err = t.c.DeleteObjectTagging(ctx, &s3.DeleteObjectTaggingInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key), VersionId: optString(h.versionID)})
		} else {
			_, err = t.c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key),
				VersionId: optString(h.versionID), Tagging: &types.Tagging{TagSet: set}})
		}
		if err != nil {
			return Result{}, classify(err, j.targetSide(), what)
		}
	case !latest:
		return Result{}, newError(contract.KindNonRetryable, fmt.Sprintf("%s: the target holds source version %s as version %s, below its latest, with other content headers or user metadata; "+
			"a plain S3 target changes them only by a copy that becomes the latest, which would bring back old data: fix them on the target by hand if they matter",
			what, j.src.VersionID, h.versionID), nil)
	default:
		m := j.src.Meta
		src := j.bucket + "/" + bbproto.EscapeKey(j.key)
		if h.versionID != "" {
			src += "?versionId=" + h.versionID
		}
		_, err = t.c.CopyObject(ctx, &s3.CopyObjectInput{
			Bucket: aws.String(j.bucket), Key: aws.String(j.key), CopySource: aws.String(src),
			MetadataDirective: types.MetadataDirectiveReplace, Metadata: j.s3Metadata(),
			TaggingDirective: types.TaggingDirectiveReplace, Tagging: aws.String(tagging(m.Tags)),
			ContentType: optString(m.ContentType), ContentEncoding: optString(m.ContentEncoding),
			ContentDisposition: optString(m.ContentDisposition), ContentLanguage: optString(m.ContentLanguage),
			CacheControl: optString(m.CacheControl), Expires: expires(m.Expires),
		})
		if err != nil {
			return Result{}, classify(err, j.targetSide(), what+" (copy onto itself)")
		}
	}
	return Result{Action: ActionMetadata}, nil
}

// putObject writes j.src with one streamed PutObject.
func (t *s3Target) putObject(ctx context.Context, j *job) (Result, error) {
	var body io.Reader = bytes.NewReader(nil)
	if j.src.Size > 0 {
		src, err := j.openSource(ctx, 0, j.src.Size)
		if err != nil {
			return Result{}, err
		}
		defer src.Close()
		body = j.stream(src)
	}
	m := j.src.Meta
	_, err := t.c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(j.bucket), Key: aws.String(j.key), Body: body, ContentLength: aws.Int64(j.src.Size),
		Metadata: j.s3Metadata(), Tagging: optString(tagging(m.Tags)),
		ContentType: optString(m.ContentType), ContentEncoding: optString(m.ContentEncoding),
		ContentDisposition: optString(m.ContentDisposition), ContentLanguage: optString(m.ContentLanguage),
		CacheControl: optString(m.CacheControl), Expires: expires(m.Expires),
	}, unsignedPayloadOption)
	if err != nil {
		return Result{}, classify(err, j.targetSide(), fmt.Sprintf("write %s/%s", j.bucket, j.key))
	}
	return Result{Action: ActionCopied, Bytes: j.src.Size}, nil
}

// deleteMarker makes j.key deleted on the target (DeleteObject without version id: a
// new target delete marker), unless its latest is already a delete marker, or unless it
// replicates a newer source version (the deletion would delete it): then the target
// keeps it, and the entry fails unless a delete marker already lies between it and the
// versions replicating older source versions.
func (t *s3Target) deleteMarker(ctx context.Context, j *job) (Result, error) {
	latest, err := t.head(ctx, j, "")
	if err != nil {
		return Result{}, err
	}
	if latest.deleteMarker {
		return Result{Action: ActionAlreadyPresent}, nil
	}
	if !latest.absent && !latest.older(j) {
		sc, err := t.scan(ctx, j)
		if err != nil {
			return Result{}, err
		}
		if sc.deleteAbove {
			return Result{Action: ActionAlreadyPresent}, nil
		}
		if sc.newer != nil {
			latest = *sc.newer
		}
		return Result{}, j.errSuperseded(fmt.Sprintf("the target holds version %s replicating the newer source version %s, and deleting now would delete it",
			latest.versionID, stamp(latest.srcVersionID, latest.srcLastModified)))
	}
	_, err = t.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key)})
	if err != nil {
		return Result{}, classify(err, j.targetSide(), fmt.Sprintf("write a delete marker on %s/%s", j.bucket, j.key))
	}
	return Result{Action: ActionDeleteMarker}, nil
}

// --- multipart uploads (multipartWriter) ---

func (t *s3Target) create(ctx context.Context, j *job) (string, error) {
	m := j.src.Meta
	out, err := t.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(j.bucket), Key: aws.String(j.key),
		Metadata: j.s3Metadata(), Tagging: optString(tagging(m.Tags)),
		ContentType: optString(m.ContentType), ContentEncoding: optString(m.ContentEncoding),
		ContentDisposition: optString(m.ContentDisposition), ContentLanguage: optString(m.ContentLanguage),
		CacheControl: optString(m.CacheControl), Expires: expires(m.Expires),
	})
	if err != nil {
		return "", classify(err, j.targetSide(), fmt.Sprintf("start a multipart upload of %s/%s", j.bucket, j.key))
	}
	return aws.ToString(out.UploadId), nil
}

func (t *s3Target) listParts(ctx context.Context, j *job, uploadID string) ([]PartDone, error) {
	var parts []PartDone
	p := s3.NewListPartsPaginator(t.c, &s3.ListPartsInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key), UploadId: aws.String(uploadID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			if s3Code(err) == "NoSuchUpload" {
				return nil, errUploadGone
			}
			return nil, classify(err, j.targetSide(), fmt.Sprintf("list the parts of upload %s of %s/%s", uploadID, j.bucket, j.key))
		}
		for _, pt := range page.Parts {
			parts = append(parts, PartDone{Number: int(aws.ToInt32(pt.PartNumber)), ETag: aws.ToString(pt.ETag), Size: aws.ToInt64(pt.Size)})
		}
	}
	return parts, nil
}

func (t *s3Target) putPart(ctx context.Context, j *job, uploadID string, n int, body io.Reader, size int64, _ func() string) (string, error) {
	out, err := t.c.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(j.bucket), Key: aws.String(j.key), UploadId: aws.String(uploadID),
		PartNumber: aws.Int32(int32(n)), Body: body, ContentLength: aws.Int64(size),
	}, unsignedPayloadOption)
	if err != nil {
		return "", classify(err, j.targetSide(), fmt.Sprintf("upload part %d of %s/%s", n, j.bucket, j.key))
	}
	return aws.ToString(out.ETag), nil
}

func (t *s3Target) complete(ctx context.Context, j *job, uploadID string, parts []PartDone) error {
	cp := make([]types.CompletedPart, len(parts))
	for i, p := range parts {
		cp[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	_, err := t.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(j.bucket), Key: aws.String(j.key), UploadId: aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: cp},
	})
	if err != nil {
		if s3Code(err) == "NoSuchUpload" {
			return newError(contract.KindRetryable, fmt.Sprintf("complete the multipart upload of %s/%s", j.bucket, j.key), errUploadGone)
		}
		return classify(err, j.targetSide(), fmt.Sprintf("complete the multipart upload of %s/%s", j.bucket, j.key))
	}
	return nil
}

func (t *s3Target) abort(ctx context.Context, j *job, uploadID string) error {
	_, err := t.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key), UploadId: aws.String(uploadID)})
	if err != nil && s3Code(err) != "NoSuchUpload" {
		return err
	}
	return nil
}

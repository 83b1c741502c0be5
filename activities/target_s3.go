package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
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
// existing version). Only the latest target version is checked (HEAD), so a replay of an
// older source version is recognized by its last-modified time (MetaSourceLastModified)
// and skipped.
type s3Target struct {
	c *s3.Client
}

// s3Head is what a HEAD of the key says.
type s3Head struct {
	absent, deleteMarker bool
	versionID            string
	srcVersionID         string
	srcLastModified      time.Time
	metaDigest           string
	size                 int64
}

func (t *s3Target) head(ctx context.Context, j *job) (s3Head, error) {
	out, err := t.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key)})
	if err != nil {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && (re.HTTPStatusCode() == http.StatusNotFound || re.HTTPStatusCode() == http.StatusMethodNotAllowed) {
			// A missing bucket is also a 404 without a code here: the write says which.
			return s3Head{absent: true, deleteMarker: re.Response.Header.Get("x-amz-delete-marker") == "true"}, nil
		}
		return s3Head{}, classify(err, j.targetSide(), fmt.Sprintf("check the target object %s/%s", j.bucket, j.key))
	}
	h := s3Head{versionID: aws.ToString(out.VersionId), size: aws.ToInt64(out.ContentLength)}
	h.srcVersionID = out.Metadata[MetaSourceVersionID]
	h.metaDigest = out.Metadata[MetaSourceMeta]
	if lm := out.Metadata[MetaSourceLastModified]; lm != "" {
		h.srcLastModified, _ = time.Parse(time.RFC3339Nano, lm)
	}
	return h, nil
}

// metaDigest is the digest of the content headers and user metadata of m.
func metaDigest(m objectMeta) string {
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

func (t *s3Target) replicate(ctx context.Context, j *job) (Result, error) {
	h, err := t.head(ctx, j)
	if err != nil {
		return Result{}, err
	}
	if !h.absent && h.srcVersionID == j.src.VersionID && h.size == j.src.Size {
		return t.updateMetadata(ctx, j, h)
	}
	if !h.absent && !h.srcLastModified.IsZero() && h.srcLastModified.After(j.src.LastModified) {
		j.log.Info("the target already holds a newer source version: skipped", "targetSourceVersionId", h.srcVersionID)
		return Result{Action: ActionSuperseded}, nil
	}
	if j.metadataOnly {
		j.log.Info("metadata-only entry but the target lacks the version: copying data and metadata")
	}
	if sizes := j.layout(); sizes != nil {
		return j.copyParts(ctx, t, sizes)
	}
	return t.putObject(ctx, j)
}

// updateMetadata writes what differs of the tags and metadata of the target's latest
// version, which holds the data of j.src.
func (t *s3Target) updateMetadata(ctx context.Context, j *job, h s3Head) (Result, error) {
	what := fmt.Sprintf("update the metadata of %s/%s", j.bucket, j.key)
	tags, err := t.c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(j.bucket), Key: aws.String(j.key), VersionId: optString(h.versionID)})
	if err != nil {
		return Result{}, classify(err, j.targetSide(), what)
	}
	cur := map[string]string{}
	for _, tg := range tags.TagSet {
		cur[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	sameTags := mapsEqual(cur, j.src.Meta.Tags)
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
	default:
		m := j.src.Meta
		src := j.bucket + "/" + escapeKey(j.key)
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

func (t *s3Target) deleteMarker(ctx context.Context, j *job) (Result, error) {
	h, err := t.head(ctx, j)
	if err != nil {
		return Result{}, err
	}
	switch {
	case h.deleteMarker:
		return Result{Action: ActionAlreadyPresent}, nil
	case !h.absent && !h.srcLastModified.IsZero() && h.srcLastModified.After(j.src.LastModified):
		j.log.Info("the target already holds a newer source version: delete marker skipped", "targetSourceVersionId", h.srcVersionID)
		return Result{Action: ActionSuperseded}, nil
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

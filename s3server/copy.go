package s3server

import (
	"encoding/xml"
	"errors"
	"io/fs"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Server-side copy: CopyObject, and the x-amz-copy-source resolution it shares with
// UploadPartCopy.

// copySource is a parsed x-amz-copy-source header.
type copySource struct {
	bucket, key, versionID string
}

// parseCopySource parses x-amz-copy-source: "[/]bucket/key[?versionId=id]" with the
// bucket and key URL-encoded.
func parseCopySource(v string) (copySource, error) {
	bad := errf("InvalidArgument", http.StatusBadRequest, "Copy Source must mention the source bucket and key: sourcebucket/sourcekey")
	rawPath, rawQuery, hasQuery := strings.Cut(v, "?")
	p, err := url.PathUnescape(rawPath)
	if err != nil {
		return copySource{}, bad
	}
	bucket, key, _ := strings.Cut(strings.TrimPrefix(p, "/"), "/")
	if bucket == "" || key == "" {
		return copySource{}, bad
	}
	if !utf8.ValidString(key) {
		return copySource{}, errInvalidURI
	}
	cs := copySource{bucket: bucket, key: key}
	if hasQuery {
		q, err := url.ParseQuery(rawQuery)
		if err != nil {
			return copySource{}, bad
		}
		if _, ok := q["versionId"]; ok {
			if cs.versionID, err = checkVersionID(q.Get("versionId")); err != nil {
				return copySource{}, err
			}
		}
	}
	return cs, nil
}

// copySourceVersion resolves rq's x-amz-copy-source: the caller must own the source
// bucket (the replication identity may read every bucket), the version must exist and
// not be a delete marker, and the x-amz-copy-source-if-* conditions must hold (else 412).
// It returns the source, its version and its bucket's versioning state.
func (s *Server) copySourceVersion(rq *request) (copySource, *store.Version, string, error) {
	src, err := parseCopySource(rq.r.Header.Get("x-amz-copy-source"))
	if err != nil {
		return src, nil, "", err
	}
	b, err := s.store.GetBucket(rq.r.Context(), src.bucket)
	if err != nil {
		return src, nil, "", err
	}
	if b.Owner != rq.account.Name && !rq.account.Replication {
		return src, nil, "", errAccessDenied
	}
	v, err := s.store.GetVersion(rq.r.Context(), src.bucket, src.key, src.versionID)
	var dm *store.DeleteMarkerError
	switch {
	case errors.As(err, &dm) && src.versionID != "":
		return src, nil, "", errf("InvalidRequest", http.StatusBadRequest, "The source of a copy request may not specifically refer to a delete marker by version id.")
	case errors.As(err, &dm):
		return src, nil, "", errNoSuchKey
	case err != nil:
		return src, nil, "", err
	}
	if evalConditions(rq.r.Header, "x-amz-copy-source-", v.ETag, v.LastModified) != condOK {
		return src, nil, "", errPreconditionFailed
	}
	return src, v, b.Versioning, nil
}

// linkParts gives the parts of a version new blobs with the same content (hard links:
// no data is copied). The caller owns the new blobs.
func (s *Server) linkParts(parts []store.Part) ([]store.Part, error) {
	out := make([]store.Part, 0, len(parts))
	for _, p := range parts {
		id, err := s.store.LinkBlob(p.Blob)
		if err != nil {
			s.removeParts(out)
			return nil, err
		}
		out = append(out, store.Part{Blob: id, Size: p.Size, ETag: p.ETag})
	}
	return out, nil
}

// removeParts removes the blobs of parts the caller owns (best effort).
func (s *Server) removeParts(parts []store.Part) {
	ids := make([]string, 0, len(parts))
	for _, p := range parts {
		ids = append(ids, p.Blob)
	}
	if len(ids) > 0 {
		if err := s.store.RemoveBlobs(ids...); err != nil {
			s.log.Warn("could not remove blobs (the next start removes them)", "err", err)
		}
	}
}

// checksumsXML are the checksum elements of CopyObjectResult, CopyPartResult, parts...
type checksumsXML struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
}

func newChecksumsXML(sums map[string]string) checksumsXML {
	return checksumsXML{ChecksumCRC32: sums["CRC32"], ChecksumCRC32C: sums["CRC32C"], ChecksumCRC64NVME: sums["CRC64NVME"],
		ChecksumSHA1: sums["SHA1"], ChecksumSHA256: sums["SHA256"]}
}

// copyObjectResult is the CopyObject answer.
type copyObjectResult struct {
	XMLName      xml.Name        `xml:"CopyObjectResult"`
	Xmlns        string          `xml:"xmlns,attr"`
	ETag         *listingETagXML `xml:"ETag"`
	LastModified string          `xml:"LastModified"`
	checksumsXML
}

// directive reads a COPY|REPLACE directive header (COPY when absent).
func directive(h http.Header, name, what string) (string, error) {
	switch d := h.Get(name); d {
	case "", "COPY":
		return "COPY", nil
	case "REPLACE":
		return d, nil
	}
	return "", errf("InvalidArgument", http.StatusBadRequest, "Unknown %s directive.", what)
}

// copyObject serves CopyObject (PUT with x-amz-copy-source): a new version of rq.key
// with the source version's data (linked blobs, no data copy), its ETag, and metadata
// and tags per x-amz-metadata-directive and x-amz-tagging-directive (COPY: the
// source's; REPLACE: from the request headers). Copying an object onto itself is refused
// unless something changes (metadata REPLACE, storage class, encryption, redirect) or a
// source version is named (S3's way to restore an old version). The answer carries
// x-amz-version-id, x-amz-copy-source-version-id and a CopyObjectResult.
func (s *Server) copyObject(rq *request) error {
	h := rq.r.Header
	if err := checkNewKey(rq.key); err != nil {
		return err
	}
	if err := checkUnsupportedHeaders(h); err != nil {
		return err
	}
	metaDir, err := directive(h, "x-amz-metadata-directive", "metadata")
	if err != nil {
		return err
	}
	tagDir, err := directive(h, "x-amz-tagging-directive", "tagging")
	if err != nil {
		return err
	}
	reqMeta, err := readObjectMeta(h, nil)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		src, v, srcVersioning, err := s.copySourceVersion(rq)
		if err != nil {
			return err
		}
		if src.bucket == rq.bucket && src.key == rq.key && src.versionID == "" && metaDir != "REPLACE" &&
			h.Get("x-amz-storage-class") == "" && h.Get("x-amz-server-side-encryption") == "" &&
			h.Get("x-amz-website-redirect-location") == "" {
			return errf("InvalidRequest", http.StatusBadRequest, "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.")
		}
		if v.Size > maxPutSize {
			return errf("InvalidRequest", http.StatusBadRequest, "The specified copy source is larger than the maximum allowable size for a copy source: %d", int64(maxPutSize))
		}
		meta := v.Meta
		meta.UserMetadata = maps.Clone(v.Meta.UserMetadata)
		meta.Tags = maps.Clone(v.Meta.Tags)
		meta.Checksums = maps.Clone(v.Meta.Checksums) // same data, same checksums
		if metaDir == "REPLACE" {
			tags, sums := meta.Tags, meta.Checksums
			meta = reqMeta
			meta.Tags, meta.Checksums = tags, sums
		} else if h.Get("x-amz-storage-class") != "" {
			meta.StorageClass = reqMeta.StorageClass
		}
		if tagDir == "REPLACE" {
			meta.Tags = reqMeta.Tags
		}
		parts, err := s.linkParts(v.Parts)
		if errors.Is(err, fs.ErrNotExist) && attempt < blobRetries {
			continue // the source was replaced meanwhile: look again
		}
		if err != nil {
			return err
		}
		out, err := s.store.PutObject(rq.r.Context(), store.PutInput{
			Bucket: rq.bucket, Key: rq.key, Owner: rq.account.Name, Meta: meta,
			Parts: parts, ETag: v.ETag, Size: v.Size,
		})
		if err != nil {
			s.removeParts(parts)
			return err
		}
		versioning, err := s.bucketVersioning(rq, rq.bucket)
		if err != nil {
			return err
		}
		rh := rq.w.Header()
		setNewVersionID(rh, versioning, out.VersionID)
		if showVersionID(srcVersioning, v.VersionID) {
			rh.Set("x-amz-copy-source-version-id", v.VersionID)
		}
		return writeXML(rq, copyObjectResult{Xmlns: s3Namespace, ETag: listingETag(out.ETag),
			LastModified: xmlTimestamp(out.LastModified), checksumsXML: newChecksumsXML(out.Meta.Checksums)})
	}
}

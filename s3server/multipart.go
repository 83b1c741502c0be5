package s3server

import (
	"encoding/xml"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Multipart upload: CreateMultipartUpload, UploadPart, UploadPartCopy, ListParts,
// CompleteMultipartUpload, AbortMultipartUpload (ListMultipartUploads is in list.go).

// maxCompleteBody bounds a CompleteMultipartUpload body (10000 parts with checksums).
const maxCompleteBody = 8 << 20

// maxListParts is the largest page of ListParts, and its default.
const maxListParts = 1000

// initiateMultipartUploadResult is the CreateMultipartUpload answer.
type initiateMultipartUploadResult struct {
	XMLName  xml.Name `xml:"InitiateMultipartUploadResult"`
	Xmlns    string   `xml:"xmlns,attr"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	UploadID string   `xml:"UploadId"`
}

// createMultipartUpload serves CreateMultipartUpload (POST ?uploads): the upload keeps
// the metadata and tags of the request headers for the version Complete writes.
func (s *Server) createMultipartUpload(rq *request) error {
	if err := checkNewKey(rq.key); err != nil {
		return err
	}
	if err := checkUnsupportedHeaders(rq.r.Header); err != nil {
		return err
	}
	meta, err := readObjectMeta(rq.r.Header, nil)
	if err != nil {
		return err
	}
	alg := strings.ToUpper(rq.r.Header.Get("x-amz-checksum-algorithm"))
	if alg != "" && newChecksumHash(alg) == nil {
		return errf("InvalidRequest", http.StatusBadRequest, "Checksum algorithm provided is unsupported. Please try again with any of the valid types: [CRC32, CRC32C, CRC64NVME, SHA1, SHA256]")
	}
	up, err := s.store.CreateUpload(rq.r.Context(), rq.bucket, rq.key, rq.account.Name, meta)
	if err != nil {
		return err
	}
	if alg != "" {
		rq.w.Header().Set("x-amz-checksum-algorithm", alg)
	}
	return writeXML(rq, initiateMultipartUploadResult{Xmlns: s3Namespace, Bucket: rq.bucket, Key: rq.key, UploadID: up.ID})
}

// uploadTarget reads the uploadId and partNumber of an UploadPart(Copy) request and
// checks the upload exists.
func (s *Server) uploadTarget(rq *request) (uploadID string, partNumber int, err error) {
	uploadID = rq.q.Get("uploadId")
	if partNumber, err = parsePartNumber(rq.q.Get("partNumber")); err != nil {
		return "", 0, err
	}
	if _, err := s.store.GetUpload(rq.r.Context(), rq.bucket, rq.key, uploadID); err != nil {
		return "", 0, err
	}
	return uploadID, partNumber, nil
}

// uploadPart serves UploadPart (PUT ?partNumber&uploadId), or UploadPartCopy when
// x-amz-copy-source is set: the body becomes part partNumber (1..10000) of the upload,
// replacing a previous part of that number. Content-MD5 and x-amz-checksum-* are
// verified; the answer's ETag is the part's MD5.
func (s *Server) uploadPart(rq *request) error {
	if rq.r.Header.Get("x-amz-copy-source") != "" {
		return s.uploadPartCopy(rq)
	}
	uploadID, n, err := s.uploadTarget(rq)
	if err != nil {
		return err
	}
	part, err := s.receiveBody(rq, maxPutSize)
	if err != nil {
		return err
	}
	sums := map[string]string{}
	for _, hh := range []http.Header{rq.r.Header, rq.auth.Trailer} {
		for suffix, alg := range checksumAlgorithms {
			if v := hh.Get("x-amz-checksum-" + suffix); v != "" {
				sums[alg] = v
			}
		}
	}
	if len(sums) == 0 {
		sums = nil
	}
	err = s.store.PutPart(rq.r.Context(), rq.bucket, rq.key, uploadID, store.UploadPart{
		Number: n, Blob: part.Blob, Size: part.Size, ETag: part.ETag, Checksums: sums,
	})
	if err != nil {
		s.store.RemoveBlobs(part.Blob)
		return err
	}
	h := rq.w.Header()
	h.Set("ETag", `"`+part.ETag+`"`)
	setChecksumHeaders(h, sums)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// copyPartResult is the UploadPartCopy answer.
type copyPartResult struct {
	XMLName      xml.Name        `xml:"CopyPartResult"`
	Xmlns        string          `xml:"xmlns,attr"`
	ETag         *listingETagXML `xml:"ETag"`
	LastModified string          `xml:"LastModified"`
}

// uploadPartCopy serves UploadPartCopy: part partNumber gets the data of the copy source
// version, or of the x-amz-copy-source-range bytes=first-last of it. A whole
// single-blob source is linked (no data copy); a range or a multipart source is copied
// into a new blob. The source's x-amz-copy-source-if-* conditions apply.
func (s *Server) uploadPartCopy(rq *request) error {
	uploadID, n, err := s.uploadTarget(rq)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		_, v, srcVersioning, err := s.copySourceVersion(rq)
		if err != nil {
			return err
		}
		rng, err := parseCopySourceRange(rq.r.Header.Get("x-amz-copy-source-range"), v.Size)
		if err != nil {
			return err
		}
		if rng == nil {
			rng = &byteRange{start: 0, length: v.Size}
		}
		if rng.length > maxPutSize {
			return errf("InvalidRequest", http.StatusBadRequest, "The specified copy range is larger than the maximum allowable size for a part: %d", int64(maxPutSize))
		}
		var part store.Part
		if rng.start == 0 && rng.length == v.Size && len(v.Parts) == 1 {
			var linked []store.Part
			if linked, err = s.linkParts(v.Parts); err == nil {
				part = linked[0]
			}
		} else {
			pr := s.newPartsReader(v.Parts, rng.start, rng.length)
			if err = pr.prime(); err == nil {
				part, err = s.storeBody(pr, rng.length, maxPutSize)
			}
			pr.Close()
		}
		if errors.Is(err, fs.ErrNotExist) && attempt < blobRetries {
			continue // the source was replaced meanwhile: look again
		}
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		err = s.store.PutPart(rq.r.Context(), rq.bucket, rq.key, uploadID, store.UploadPart{
			Number: n, Blob: part.Blob, Size: part.Size, ETag: part.ETag, LastModified: now,
		})
		if err != nil {
			s.store.RemoveBlobs(part.Blob)
			return err
		}
		if showVersionID(srcVersioning, v.VersionID) {
			rq.w.Header().Set("x-amz-copy-source-version-id", v.VersionID)
		}
		return writeXML(rq, copyPartResult{Xmlns: s3Namespace, ETag: listingETag(part.ETag), LastModified: xmlTimestamp(now)})
	}
}

// listPartsResult is the ListParts answer.
type listPartsResult struct {
	XMLName              xml.Name         `xml:"ListPartsResult"`
	Xmlns                string           `xml:"xmlns,attr"`
	Bucket               string           `xml:"Bucket"`
	Key                  string           `xml:"Key"`
	UploadID             string           `xml:"UploadId"`
	EncodingType         string           `xml:"EncodingType,omitempty"`
	PartNumberMarker     int              `xml:"PartNumberMarker"`
	NextPartNumberMarker int              `xml:"NextPartNumberMarker"`
	MaxParts             int              `xml:"MaxParts"`
	IsTruncated          bool             `xml:"IsTruncated"`
	Parts                []partXML        `xml:"Part"`
	Initiator            *listingOwnerXML `xml:"Initiator"`
	Owner                *listingOwnerXML `xml:"Owner"`
	StorageClass         string           `xml:"StorageClass"`
}

type partXML struct {
	PartNumber   int             `xml:"PartNumber"`
	LastModified string          `xml:"LastModified"`
	ETag         *listingETagXML `xml:"ETag"`
	Size         int64           `xml:"Size"`
	checksumsXML
}

// intParam parses an optional non-negative integer query parameter (def when absent).
func intParam(q url.Values, name, argName string, def int) (int, error) {
	v, ok := q[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v[0]))
	if err != nil || n < 0 {
		return 0, errf("InvalidArgument", http.StatusBadRequest, "Argument %s must be an integer between 0 and 2147483647", argName)
	}
	return n, nil
}

// listParts serves ListParts (GET ?uploadId): the upload's parts after
// part-number-marker, at most max-parts (capped at 1000), with NextPartNumberMarker and
// IsTruncated for the next page.
func (s *Server) listParts(rq *request) error {
	marker, err := intParam(rq.q, "part-number-marker", "part-number-marker", 0)
	if err != nil {
		return err
	}
	maxParts, err := intParam(rq.q, "max-parts", "max-parts", maxListParts)
	if err != nil {
		return err
	}
	maxParts = min(maxParts, maxListParts)
	var o listOptions
	switch rq.q.Get("encoding-type") {
	case "":
	case "url":
		o.urlEncode = true
	default:
		return errf("InvalidArgument", http.StatusBadRequest, "Invalid Encoding Method specified in Request")
	}
	uploadID := rq.q.Get("uploadId")
	up, err := s.store.GetUpload(rq.r.Context(), rq.bucket, rq.key, uploadID)
	if err != nil {
		return err
	}
	parts, err := s.store.ListParts(rq.r.Context(), rq.bucket, rq.key, uploadID)
	if err != nil {
		return err
	}
	sc := up.Meta.StorageClass
	if sc == "" {
		sc = "STANDARD"
	}
	res := listPartsResult{Xmlns: s3Namespace, Bucket: rq.bucket, Key: o.enc(rq.key), UploadID: uploadID,
		EncodingType: o.encodingType(), PartNumberMarker: marker, MaxParts: maxParts,
		Initiator: listingOwner(up.Owner), Owner: listingOwner(up.Owner), StorageClass: sc}
	for _, p := range parts {
		if p.Number <= marker {
			continue
		}
		if len(res.Parts) == maxParts {
			res.IsTruncated = true
			break
		}
		res.Parts = append(res.Parts, partXML{PartNumber: p.Number, LastModified: xmlTimestamp(p.LastModified),
			ETag: listingETag(p.ETag), Size: p.Size, checksumsXML: newChecksumsXML(p.Checksums)})
		res.NextPartNumberMarker = p.Number
	}
	return writeXML(rq, res)
}

// completeMultipartUpload is the CompleteMultipartUpload body.
type completeMultipartUpload struct {
	XMLName xml.Name `xml:"CompleteMultipartUpload"`
	Parts   []struct {
		PartNumber int    `xml:"PartNumber"`
		ETag       string `xml:"ETag"`
	} `xml:"Part"`
}

// completeMultipartUploadResult is the CompleteMultipartUpload answer.
type completeMultipartUploadResult struct {
	XMLName  xml.Name        `xml:"CompleteMultipartUploadResult"`
	Xmlns    string          `xml:"xmlns,attr"`
	Location string          `xml:"Location"`
	Bucket   string          `xml:"Bucket"`
	Key      string          `xml:"Key"`
	ETag     *listingETagXML `xml:"ETag"`
}

// completeMultipartUpload serves CompleteMultipartUpload (POST ?uploadId): the listed
// parts (ascending numbers, ETags as uploaded, all but the last at least 5 MiB) become a
// new version with ETag "md5-of-part-md5s-N". The answer is sent once the version is
// committed (S3 may send whitespace early; a plain answer is valid).
func (s *Server) completeMultipartUpload(rq *request) error {
	uploadID := rq.q.Get("uploadId")
	if _, err := s.store.GetUpload(rq.r.Context(), rq.bucket, rq.key, uploadID); err != nil {
		if !errors.Is(err, store.ErrNoSuchUpload) {
			return err
		}
		// A retry of a completion that succeeded gets the same answer, as S3.
		v, cerr := s.store.CompletedUpload(rq.r.Context(), rq.bucket, rq.key, uploadID)
		if cerr != nil {
			return err
		}
		return s.writeCompleted(rq, v)
	}
	data, err := readBucketBody(rq, maxCompleteBody)
	if err != nil {
		return err
	}
	var in completeMultipartUpload
	if err := xml.Unmarshal(data, &in); err != nil || len(in.Parts) == 0 {
		return errMalformedXML
	}
	if err := s.checkWriteConditions(rq); err != nil {
		return err
	}
	parts := make([]store.CompletePart, len(in.Parts))
	for i, p := range in.Parts {
		parts[i] = store.CompletePart{Number: p.PartNumber, ETag: p.ETag}
	}
	v, err := s.store.CompleteUpload(rq.r.Context(), rq.bucket, rq.key, uploadID, parts, nil)
	if err != nil {
		return err
	}
	return s.writeCompleted(rq, v)
}

// writeCompleted answers a CompleteMultipartUpload that wrote version v.
func (s *Server) writeCompleted(rq *request, v *store.Version) error {
	versioning, err := s.bucketVersioning(rq, rq.bucket)
	if err != nil {
		return err
	}
	setNewVersionID(rq.w.Header(), versioning, v.VersionID)
	scheme := "http"
	if rq.r.TLS != nil {
		scheme = "https"
	}
	loc := (&url.URL{Scheme: scheme, Host: rq.r.Host, Path: "/" + rq.bucket + "/" + rq.key}).String()
	return writeXML(rq, completeMultipartUploadResult{Xmlns: s3Namespace, Location: loc, Bucket: rq.bucket, Key: rq.key, ETag: listingETag(v.ETag)})
}

// abortMultipartUpload serves AbortMultipartUpload (DELETE ?uploadId): the upload and its
// parts are removed (204; NoSuchUpload when it does not exist).
func (s *Server) abortMultipartUpload(rq *request) error {
	if err := s.store.AbortUpload(rq.r.Context(), rq.bucket, rq.key, rq.q.Get("uploadId")); err != nil {
		return err
	}
	return writeStatusNoContent(rq)
}

package s3server

import (
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Shared vocabulary of the object handlers and the backbeat replica route: reading an
// object's metadata from request headers, writing a version's headers in a response,
// and storing a request body as a blob.

// maxUserMetadataSize is the largest total size of x-amz-meta-* names and values, as S3.
const maxUserMetadataSize = 2 << 10

// userMetaPrefix is the header prefix of user metadata.
const userMetaPrefix = "x-amz-meta-"

// checksumAlgorithms maps the x-amz-checksum-* header suffix to the algorithm name.
var checksumAlgorithms = map[string]string{
	"crc32": "CRC32", "crc32c": "CRC32C", "crc64nvme": "CRC64NVME", "sha1": "SHA1", "sha256": "SHA256",
}

// readObjectMeta reads what a client sets on a new version from request headers:
// content headers, x-amz-meta-* (lower-cased names), x-amz-tagging, x-amz-storage-class
// and x-amz-checksum-* values. trailer holds checksums sent as aws-chunked trailers
// (may be nil). It fails with MetadataTooLarge, InvalidArgument or InvalidTag.
func readObjectMeta(h http.Header, trailer http.Header) (store.ObjectMeta, error) {
	m := store.ObjectMeta{
		ContentType:        h.Get("Content-Type"),
		ContentEncoding:    h.Get("Content-Encoding"),
		ContentDisposition: h.Get("Content-Disposition"),
		ContentLanguage:    h.Get("Content-Language"),
		CacheControl:       h.Get("Cache-Control"),
		Expires:            h.Get("Expires"),
	}
	// aws-chunked is transfer framing, not the object's encoding.
	if enc := removeToken(m.ContentEncoding, "aws-chunked"); enc != m.ContentEncoding {
		m.ContentEncoding = enc
	}
	size := 0
	for name, vals := range h {
		lname := strings.ToLower(name)
		if !strings.HasPrefix(lname, userMetaPrefix) {
			continue
		}
		k := strings.TrimPrefix(lname, userMetaPrefix)
		v := decodeMetaValue(strings.Join(vals, ","))
		if m.UserMetadata == nil {
			m.UserMetadata = map[string]string{}
		}
		m.UserMetadata[k] = v
		size += len(k) + len(v)
	}
	if size > maxUserMetadataSize {
		return m, errf("MetadataTooLarge", http.StatusBadRequest, "Your metadata headers exceed the maximum allowed metadata size of %d bytes.", maxUserMetadataSize)
	}
	tags, err := parseTaggingHeader(h.Get("x-amz-tagging"))
	if err != nil {
		return m, err
	}
	m.Tags = tags
	if sc := h.Get("x-amz-storage-class"); sc != "" {
		switch sc {
		case "STANDARD":
		case "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "GLACIER_IR", "OUTPOSTS", "EXPRESS_ONEZONE":
			m.StorageClass = sc
		default:
			return m, errf("InvalidStorageClass", http.StatusBadRequest, "The storage class you specified is not valid")
		}
	}
	for _, hh := range []http.Header{h, trailer} {
		for suffix, alg := range checksumAlgorithms {
			if v := hh.Get("x-amz-checksum-" + suffix); v != "" {
				if m.Checksums == nil {
					m.Checksums = map[string]string{}
				}
				m.Checksums[alg] = v
			}
		}
	}
	return m, nil
}

// removeToken removes tok from a comma-separated header value.
func removeToken(v, tok string) string {
	if v == "" {
		return v
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" && !strings.EqualFold(p, tok) {
			out = append(out, p)
		}
	}
	return strings.Join(out, ",")
}

// httpTime formats t as an HTTP date (Last-Modified).
func httpTime(t time.Time) string { return t.UTC().Format(http.TimeFormat) }

// writeVersionHeaders sets the response headers describing version v (GET, HEAD):
// ETag, Last-Modified, content headers, user metadata, version id, replication status,
// tag count, storage class and checksums (when the client asked with
// x-amz-checksum-mode: ENABLED). Content-Length is the caller's (ranges).
func writeVersionHeaders(h http.Header, v *store.Version, withChecksums bool) {
	h.Set("ETag", `"`+v.ETag+`"`)
	h.Set("Last-Modified", httpTime(v.LastModified))
	h.Set("Accept-Ranges", "bytes")
	ct := v.Meta.ContentType
	if ct == "" {
		ct = "binary/octet-stream"
	}
	h.Set("Content-Type", ct)
	setIf := func(name, val string) {
		if val != "" {
			h.Set(name, val)
		}
	}
	setIf("Content-Encoding", v.Meta.ContentEncoding)
	setIf("Content-Disposition", v.Meta.ContentDisposition)
	setIf("Content-Language", v.Meta.ContentLanguage)
	setIf("Cache-Control", v.Meta.CacheControl)
	setIf("Expires", v.Meta.Expires)
	for k, val := range v.Meta.UserMetadata {
		h[http.CanonicalHeaderKey(userMetaPrefix+k)] = []string{encodeMetaValue(val)}
	}
	setIf("x-amz-version-id", v.VersionID)
	if v.Replication != nil && v.Replication.Status != "" {
		h.Set("x-amz-replication-status", string(v.Replication.Status))
	}
	if n := len(v.Meta.Tags); n > 0 {
		h.Set("x-amz-tagging-count", strconv.Itoa(n))
	}
	setIf("x-amz-storage-class", v.Meta.StorageClass)
	if withChecksums {
		for suffix, alg := range checksumAlgorithms {
			if c, ok := v.Meta.Checksums[alg]; ok {
				h.Set("x-amz-checksum-"+suffix, c)
			}
		}
	}
}

// errIncompleteBody answers a body shorter than its declared length.
var errIncompleteBody = errf("IncompleteBody", http.StatusBadRequest, "You did not provide the number of bytes specified by the Content-Length HTTP header.")

// storeBody writes a request body to a new blob and commits it (fsynced): it returns the
// part (blob id, size, hex MD5 as ETag). want is the declared length (-1 unknown): a
// shorter body is IncompleteBody, a longer one is read only up to want+1 and refused.
// maxSize bounds the size (EntityTooLarge). The blob is removed on any error.
func (s *Server) storeBody(body io.Reader, want, maxSize int64) (store.Part, error) {
	if want > maxSize {
		return store.Part{}, errf("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	}
	bw, err := s.store.NewBlob()
	if err != nil {
		return store.Part{}, err
	}
	limit := maxSize + 1
	if want >= 0 {
		limit = want + 1
	}
	h := md5.New()
	n, err := io.Copy(io.MultiWriter(bw, h), io.LimitReader(body, limit))
	if err != nil {
		bw.Abort()
		var ae *apiError
		if errors.As(err, &ae) {
			return store.Part{}, ae
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return store.Part{}, errIncompleteBody
		}
		return store.Part{}, fmt.Errorf("store body: %w", err)
	}
	switch {
	case want >= 0 && n < want:
		bw.Abort()
		return store.Part{}, errIncompleteBody
	case want >= 0 && n > want:
		bw.Abort()
		return store.Part{}, errf("InvalidRequest", http.StatusBadRequest, "The request body is longer than its declared length.")
	case n > maxSize:
		bw.Abort()
		return store.Part{}, errf("EntityTooLarge", http.StatusBadRequest, "Your proposed upload exceeds the maximum allowed object size.")
	}
	id, size, err := bw.Commit()
	if err != nil {
		return store.Part{}, err
	}
	return store.Part{Blob: id, Size: size, ETag: hex.EncodeToString(h.Sum(nil))}, nil
}

// decodeMetaValue returns a user metadata value as stored: RFC 2047 encoded-words
// (=?UTF-8?B?...?=, as clients send non-ASCII values) are decoded, as S3 does; a value
// that does not decode is kept as sent.
func decodeMetaValue(v string) string {
	if !strings.Contains(v, "=?") {
		return v
	}
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		return v
	}
	return d
}

// encodeMetaValue renders a stored user metadata value as a header: as is when it is
// printable US-ASCII, else as one RFC 2047 encoded-word (=?UTF-8?B?...?=), as S3
// returns it.
func encodeMetaValue(v string) string {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < 0x20 && c != '\t' || c > 0x7e {
			return "=?UTF-8?B?" + base64.StdEncoding.EncodeToString([]byte(v)) + "?="
		}
	}
	return v
}

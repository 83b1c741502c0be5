package s3server

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Object handlers: PutObject, GetObject, HeadObject, DeleteObject, and the helpers they
// share with copy, tagging and multipart handlers.

const (
	// maxKeyLength is the longest object key S3 accepts, in bytes.
	maxKeyLength = 1024
	// maxPutSize is the largest object of a single PUT, the largest part and the
	// largest copy source (5 GiB, as S3).
	maxPutSize = 5 << 30
	// maxVersionIDLength bounds a version id in a request (ours are 32 characters;
	// replicas keep the source's, which are short too).
	maxVersionIDLength = 1024
)

// errMissingContentLength answers a PUT of data without a Content-Length (nor chunked
// transfer encoding), as S3.
var errMissingContentLength = errf("MissingContentLength", http.StatusLengthRequired, "You must provide the Content-Length HTTP header.")

// errInvalidVersionID answers a versionId S3 would not accept.
var errInvalidVersionID = errf("InvalidArgument", http.StatusBadRequest, "Invalid version id specified")

// versionParam returns the versionId query parameter ("" when absent). An empty value
// or one that no store could have generated is InvalidArgument, as S3.
func versionParam(q url.Values) (string, error) {
	vals, ok := q["versionId"]
	if !ok {
		return "", nil
	}
	return checkVersionID(vals[0])
}

// checkVersionID validates a version id sent by a client. Version ids are opaque (the
// replica route keeps other stores' ids), so only their shape is checked: 1 to 1024
// characters of the URL-safe and base64 alphabets.
func checkVersionID(id string) (string, error) {
	if id == "" {
		return "", errf("InvalidArgument", http.StatusBadRequest, "Version id cannot be the empty string")
	}
	if len(id) > maxVersionIDLength {
		return "", errInvalidVersionID
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("-._~+/=:", c) >= 0) {
			return "", errInvalidVersionID
		}
	}
	return id, nil
}

// checkVersionKnown refuses, with InvalidArgument as S3 answers a malformed version id,
// a version id of key that no store issues and that names no stored version (replicas
// keep foreign ids: those that exist are valid). Other lookup errors are left to the
// handler's own lookup.
func (s *Server) checkVersionKnown(rq *request, key, id string) error {
	if id == "" || store.IsIssuedVersionID(id) {
		return nil
	}
	if _, err := s.store.GetVersion(rq.r.Context(), rq.bucket, key, id); errors.Is(err, store.ErrNoSuchVersion) {
		return errInvalidVersionID
	}
	return nil
}

// checkNewKey validates the key of a version about to be written.
func checkNewKey(key string) error {
	if len(key) > maxKeyLength {
		return errKeyTooLong
	}
	return nil
}

// bucketVersioning returns the versioning state of rq.bucket ("" when never enabled).
func (s *Server) bucketVersioning(rq *request, bucket string) (string, error) {
	b, err := s.store.GetBucket(rq.r.Context(), bucket)
	if err != nil {
		return "", err
	}
	return b.Versioning, nil
}

// showVersionID tells whether S3 shows version id id in a response about a bucket in
// versioning state versioning: never the null version of a bucket that was never
// versioned.
func showVersionID(versioning, id string) bool {
	return id != "" && !(versioning == "" && id == store.NullVersionID)
}

// setVersionID sets x-amz-version-id when S3 would show it.
func setVersionID(h http.Header, versioning, id string) {
	if showVersionID(versioning, id) {
		h.Set("x-amz-version-id", id)
	} else {
		h.Del("x-amz-version-id")
	}
}

// setNewVersionID sets x-amz-version-id on the answer to a write (PUT, copy, complete):
// only a bucket with versioning Enabled shows the new id; the null version written while
// versioning is off or suspended is not shown.
func setNewVersionID(h http.Header, versioning, id string) {
	if versioning == store.VersioningEnabled && id != "" && id != store.NullVersionID {
		h.Set("x-amz-version-id", id)
	}
}

// versionError maps a store error of a version lookup: a delete marker answers 404
// NoSuchKey when the latest version was asked for and 405 MethodNotAllowed when it was
// named by id, both with x-amz-delete-marker, x-amz-version-id and Last-Modified.
func versionError(err error, byID bool, versioning string) error {
	var dm *store.DeleteMarkerError
	if !errors.As(err, &dm) {
		return err
	}
	e := *errNoSuchKey
	if byID {
		e = *errMethodNotAllowed
	}
	e.Headers = map[string]string{"x-amz-delete-marker": "true", "Last-Modified": httpTime(dm.LastModified)}
	if byID {
		e.Headers["Allow"] = "DELETE"
	}
	if showVersionID(versioning, dm.VersionID) {
		e.Headers["x-amz-version-id"] = dm.VersionID
	}
	return &e
}

// checkUnsupportedHeaders refuses write options this server does not implement rather
// than ignoring them: SSE-KMS and SSE-C (SSE-S3 "AES256" is accepted: data is not
// encrypted at rest by this server), Object Lock (no bucket has it), and ACLs other
// than the bucket owner's full control (ACLs are disabled).
func checkUnsupportedHeaders(h http.Header) error {
	switch sse := h.Get("x-amz-server-side-encryption"); sse {
	case "", "AES256":
	case "aws:kms", "aws:kms:dsse":
		return errf("NotImplemented", http.StatusNotImplemented, "Server-side encryption with KMS keys is not supported by this server.")
	default:
		return errf("InvalidArgument", http.StatusBadRequest, "The encryption method specified is not supported")
	}
	if h.Get("x-amz-server-side-encryption-customer-algorithm") != "" {
		return errf("NotImplemented", http.StatusNotImplemented, "Server-side encryption with customer-provided keys is not supported by this server.")
	}
	for _, n := range []string{"x-amz-object-lock-mode", "x-amz-object-lock-retain-until-date", "x-amz-object-lock-legal-hold"} {
		if h.Get(n) != "" {
			return errNoObjectLock
		}
	}
	return checkACLHeaders(h)
}

// contentMD5 decodes a Content-MD5 header (nil when absent; InvalidDigest when it is not
// the base64 of 16 bytes).
func contentMD5(h http.Header) ([]byte, error) {
	v := h.Get("Content-MD5")
	if v == "" {
		return nil, nil
	}
	sum, err := base64.StdEncoding.DecodeString(v)
	if err != nil || len(sum) != md5.Size {
		return nil, errf("InvalidDigest", http.StatusBadRequest, "The Content-MD5 you specified was invalid.")
	}
	return sum, nil
}

// errBadDigest answers a Content-MD5 that does not match the body.
var errBadDigest = errf("BadDigest", http.StatusBadRequest, "The Content-MD5 you specified did not match what we received.")

// crc64NVME is the CRC-64/NVME table (reflected polynomial of 0xad93d23594c93659).
var crc64NVME = crc64.MakeTable(0x9a6c9329ac4bc9b5)

// newChecksumHash returns a hash of a flexible checksum algorithm (as checksumAlgorithms
// names them).
func newChecksumHash(alg string) hash.Hash {
	switch alg {
	case "CRC32":
		return crc32.NewIEEE()
	case "CRC32C":
		return crc32.New(crc32.MakeTable(crc32.Castagnoli))
	case "CRC64NVME":
		return crc64.New(crc64NVME)
	case "SHA1":
		return sha1.New()
	case "SHA256":
		return sha256.New()
	}
	return nil
}

// bodyChecksums verifies the x-amz-checksum-* headers sent with a body (trailing
// checksums of aws-chunked bodies are verified by sigv4). Write the body to it, then
// call verify.
type bodyChecksums struct {
	want map[string][]byte // by algorithm
	hash map[string]hash.Hash
}

// newBodyChecksums reads the checksum headers (InvalidRequest when one is not the base64
// of a digest of its algorithm).
func newBodyChecksums(h http.Header) (*bodyChecksums, error) {
	c := &bodyChecksums{}
	for suffix, alg := range checksumAlgorithms {
		v := h.Get("x-amz-checksum-" + suffix)
		if v == "" {
			continue
		}
		hs := newChecksumHash(alg)
		sum, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(sum) != hs.Size() {
			return nil, errf("InvalidRequest", http.StatusBadRequest, "Value for x-amz-checksum-%s header is invalid.", suffix)
		}
		if c.want == nil {
			c.want, c.hash = map[string][]byte{}, map[string]hash.Hash{}
		}
		c.want[alg], c.hash[alg] = sum, hs
	}
	return c, nil
}

func (c *bodyChecksums) Write(p []byte) (int, error) {
	for _, h := range c.hash {
		h.Write(p)
	}
	return len(p), nil
}

// verify compares the computed checksums with the headers (BadDigest on a mismatch).
func (c *bodyChecksums) verify() error {
	for alg, want := range c.want {
		if !bytes.Equal(c.hash[alg].Sum(nil), want) {
			return errf("BadDigest", http.StatusBadRequest, "The %s you specified did not match the calculated checksum.", alg)
		}
	}
	return nil
}

// receiveBody stores rq's body as a committed blob of at most maxSize bytes, checking
// Content-MD5 and the x-amz-checksum-* headers; the blob is removed on any error.
func (s *Server) receiveBody(rq *request, maxSize int64) (store.Part, error) {
	// A body is framed by Content-Length or chunked transfer encoding; with neither (an
	// empty body a client may not have meant) S3 answers 411.
	if rq.r.ContentLength == 0 && len(rq.r.TransferEncoding) == 0 && rq.r.Header.Get("Content-Length") == "" {
		return store.Part{}, errMissingContentLength
	}
	md5sum, err := contentMD5(rq.r.Header)
	if err != nil {
		return store.Part{}, err
	}
	sums, err := newBodyChecksums(rq.r.Header)
	if err != nil {
		return store.Part{}, err
	}
	var body io.Reader = rq.body
	if sums.want != nil {
		body = io.TeeReader(rq.body, sums)
	}
	part, err := s.storeBody(body, rq.auth.DecodedLength, maxSize)
	if err != nil {
		return store.Part{}, err
	}
	if md5sum != nil && hex.EncodeToString(md5sum) != part.ETag {
		err = errBadDigest
	} else {
		err = sums.verify()
	}
	if err != nil {
		s.store.RemoveBlobs(part.Blob)
		return store.Part{}, err
	}
	return part, nil
}

// setChecksumHeaders echoes a version's or part's checksums as x-amz-checksum-* headers.
func setChecksumHeaders(h http.Header, sums map[string]string) {
	for suffix, alg := range checksumAlgorithms {
		if v, ok := sums[alg]; ok {
			h.Set("x-amz-checksum-"+suffix, v)
		}
	}
}

// putObject serves PutObject (or CopyObject when x-amz-copy-source is set): the body
// becomes a new version (Enabled: a new version id, shown in x-amz-version-id; otherwise
// the null version). Content-MD5 and x-amz-checksum-* are verified; metadata comes from
// the headers (and trailing checksums); a client-sent x-amz-replication-status is
// ignored, the store's replication policy sets PENDING.
func (s *Server) putObject(rq *request) error {
	if rq.r.Header.Get("x-amz-copy-source") != "" {
		return s.copyObject(rq)
	}
	if err := checkNewKey(rq.key); err != nil {
		return err
	}
	if err := checkUnsupportedHeaders(rq.r.Header); err != nil {
		return err
	}
	if _, err := readObjectMeta(rq.r.Header, nil); err != nil { // fail before the body
		return err
	}
	if err := s.checkWriteConditions(rq); err != nil {
		return err
	}
	part, err := s.receiveBody(rq, maxPutSize)
	if err != nil {
		return err
	}
	meta, err := readObjectMeta(rq.r.Header, rq.auth.Trailer) // trailer is set at EOF
	if err != nil {
		s.store.RemoveBlobs(part.Blob)
		return err
	}
	v, err := s.store.PutObject(rq.r.Context(), store.PutInput{
		Bucket: rq.bucket, Key: rq.key, Owner: rq.account.Name, Meta: meta,
		Parts: []store.Part{part}, ETag: part.ETag, Size: part.Size,
	})
	if err != nil {
		s.store.RemoveBlobs(part.Blob)
		return err
	}
	versioning, err := s.bucketVersioning(rq, rq.bucket)
	if err != nil {
		return err
	}
	h := rq.w.Header()
	h.Set("ETag", `"`+v.ETag+`"`)
	setNewVersionID(h, versioning, v.VersionID)
	setChecksumHeaders(h, v.Meta.Checksums)
	rq.w.WriteHeader(http.StatusOK)
	return nil
}

// getObject serves GetObject.
func (s *Server) getObject(rq *request) error { return s.serveObject(rq, true) }

// headObject serves HeadObject: GetObject's headers without the body (errors without a
// body too, see writeError).
func (s *Server) headObject(rq *request) error { return s.serveObject(rq, false) }

// responseOverrides maps the response-* query parameters to the headers they override.
var responseOverrides = map[string]string{
	"response-content-type":        "Content-Type",
	"response-content-language":    "Content-Language",
	"response-expires":             "Expires",
	"response-cache-control":       "Cache-Control",
	"response-content-disposition": "Content-Disposition",
	"response-content-encoding":    "Content-Encoding",
}

// blobRetries is how many times a read looks the version up again when one of its blobs
// vanished between the lookup and the open (the version was replaced meanwhile).
const blobRetries = 3

// serveObject answers GET or HEAD of a version: versionId, conditional headers (304 /
// 412), Range (206, or 416 InvalidRange), partNumber (206 with x-amz-mp-parts-count for
// multipart objects), response-* overrides and x-amz-checksum-mode. The data is streamed
// from the version's blobs; a version replaced between its lookup and the opening of its
// first blob is looked up again (blobRetries).
func (s *Server) serveObject(rq *request, withBody bool) error {
	vid, err := versionParam(rq.q)
	if err != nil {
		return err
	}
	partNumber, err := partNumberParam(rq)
	if err != nil {
		return err
	}
	versioning, err := s.bucketVersioning(rq, rq.bucket)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		v, err := s.store.GetVersion(rq.r.Context(), rq.bucket, rq.key, vid)
		if err != nil {
			return versionError(err, vid != "", versioning)
		}
		switch evalConditions(rq.r.Header, "", v.ETag, v.LastModified) {
		case condFailed:
			return errPreconditionFailed
		case condNotModified:
			writeNotModified(rq.w.Header(), v, versioning)
			rq.w.WriteHeader(http.StatusNotModified)
			return nil
		}
		rng, partsCount, err := objectRange(rq, v, partNumber)
		if err != nil {
			return err
		}
		start, length := int64(0), v.Size
		if rng != nil {
			start, length = rng.start, rng.length
		}
		var pr *partsReader
		if withBody && length > 0 {
			pr = s.newPartsReader(v.Parts, start, length)
			if err := pr.prime(); err != nil {
				pr.Close()
				if errors.Is(err, fs.ErrNotExist) && attempt < blobRetries {
					continue // replaced meanwhile: look again
				}
				return err
			}
		}
		rq.w.WriteHeader(writeObjectHeaders(rq, v, versioning, rng, partsCount, length))
		if pr == nil {
			return nil
		}
		s.streamObject(rq, v, pr)
		return nil
	}
}

// partNumberParam returns the partNumber query parameter (0 when absent), which excludes
// a Range header.
func partNumberParam(rq *request) (int, error) {
	if _, ok := rq.q["partNumber"]; !ok {
		return 0, nil
	}
	partNumber, err := parsePartNumber(rq.q.Get("partNumber"))
	if err != nil {
		return 0, err
	}
	if rq.r.Header.Get("Range") != "" {
		return 0, errf("InvalidRequest", http.StatusBadRequest, "Cannot specify both Range header and partNumber query parameter")
	}
	return partNumber, nil
}

// writeNotModified sets the headers of a 304 answer for v: ETag, Last-Modified and the
// version ID.
func writeNotModified(h http.Header, v *store.Version, versioning string) {
	h.Set("ETag", `"`+v.ETag+`"`)
	h.Set("Last-Modified", httpTime(v.LastModified))
	setVersionID(h, versioning, v.VersionID)
}

// objectRange returns the byte range of v to serve (nil: all of it) and the parts count
// to show, from partNumber (0: none) or else the Range header.
func objectRange(rq *request, v *store.Version, partNumber int) (*byteRange, int, error) {
	if partNumber > 0 {
		return partRange(v, partNumber)
	}
	rng, err := parseRange(rq.r.Header.Get("Range"), v.Size)
	return rng, 0, err
}

// writeObjectHeaders sets the headers of v's answer (the version's, its user metadata,
// checksums when asked for and the whole object is served, the response-* overrides, the
// parts count, Content-Length and Content-Range) and returns the status to send: 206 for
// a range, 200 otherwise.
func writeObjectHeaders(rq *request, v *store.Version, versioning string, rng *byteRange, partsCount int, length int64) int {
	h := rq.w.Header()
	withChecksums := rng == nil && strings.EqualFold(rq.r.Header.Get("x-amz-checksum-mode"), "ENABLED")
	writeVersionHeaders(h, v, withChecksums)
	lowerMetaHeaders(h, v.Meta.UserMetadata)
	setVersionID(h, versioning, v.VersionID)
	for p, name := range responseOverrides {
		if val := rq.q.Get(p); val != "" {
			h.Set(name, val)
		}
	}
	if partsCount > 0 {
		h.Set("x-amz-mp-parts-count", strconv.Itoa(partsCount))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	if rng == nil {
		return http.StatusOK
	}
	h.Set("Content-Range", rng.contentRange(v.Size))
	return http.StatusPartialContent
}

// streamObject writes the body of v from pr, then closes pr. The status is already sent:
// a read error cuts the connection so the client sees a short body.
func (s *Server) streamObject(rq *request, v *store.Version, pr *partsReader) {
	defer pr.Close()
	if _, err := pr.WriteTo(rq.w); err != nil {
		s.log.Debug("object read aborted", "bucket", rq.bucket, "key", rq.key, "versionId", v.VersionID, "requestId", rq.id, "err", err)
		panic(http.ErrAbortHandler)
	}
}

// lowerMetaHeaders writes the x-amz-meta-* names in lower case as S3 does (net/http
// would send them canonicalized, X-Amz-Meta-Color, and clients such as botocore keep
// the case they receive).
func lowerMetaHeaders(h http.Header, meta map[string]string) {
	for k, val := range meta {
		h.Del(userMetaPrefix + k)
		h[userMetaPrefix+k] = []string{encodeMetaValue(val)}
	}
}

// partRange returns the byte range of part n of v and the parts count to show (0 for an
// object that was not uploaded in parts, of which only part 1 exists: the whole object).
func partRange(v *store.Version, n int) (*byteRange, int, error) {
	if !isMultipart(v) {
		if n != 1 {
			return nil, 0, errInvalidPartNumber
		}
		if v.Size == 0 {
			return nil, 0, nil
		}
		return &byteRange{start: 0, length: v.Size}, 0, nil
	}
	if n > len(v.Parts) {
		return nil, 0, errInvalidPartNumber
	}
	var start int64
	for _, p := range v.Parts[:n-1] {
		start += p.Size
	}
	return &byteRange{start: start, length: v.Parts[n-1].Size}, len(v.Parts), nil
}

// errInvalidPartNumber answers a partNumber past the object's parts.
var errInvalidPartNumber = &apiError{Code: "InvalidPartNumber", Status: http.StatusRequestedRangeNotSatisfiable, Message: "The requested partnumber is not satisfiable"}

// parsePartNumber parses a partNumber parameter: 1 to 10000.
func parsePartNumber(v string) (int, error) {
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > store.MaxPartNumber {
		return 0, errf("InvalidArgument", http.StatusBadRequest, "Part number must be an integer between 1 and %d, inclusive", store.MaxPartNumber)
	}
	return n, nil
}

// partsReader reads length bytes from offset start of a version's data, opening each
// part's blob only when it is reached.
type partsReader struct {
	s         *Server
	parts     []store.Part
	idx       int   // current part
	off       int64 // offset in the current part
	remaining int64
	cur       io.ReadSeekCloser
}

func (s *Server) newPartsReader(parts []store.Part, start, length int64) *partsReader {
	i := 0
	for i < len(parts) && start >= parts[i].Size {
		start -= parts[i].Size
		i++
	}
	return &partsReader{s: s, parts: parts, idx: i, off: start, remaining: length}
}

// prime opens the blob of the current part (so that a vanished blob is seen before
// anything is answered).
func (r *partsReader) prime() error {
	for r.cur == nil && r.remaining > 0 {
		if r.idx >= len(r.parts) {
			return io.ErrUnexpectedEOF // parts shorter than the version's size
		}
		if r.off >= r.parts[r.idx].Size { // empty part
			r.idx, r.off = r.idx+1, 0
			continue
		}
		f, err := r.s.store.OpenBlob(r.parts[r.idx].Blob)
		if err != nil {
			return err
		}
		if r.off > 0 {
			if _, err := f.Seek(r.off, io.SeekStart); err != nil {
				f.Close()
				return err
			}
		}
		r.cur = f
	}
	return nil
}

// next closes the current blob and moves to the next part.
func (r *partsReader) next() {
	r.cur.Close()
	r.cur, r.idx, r.off = nil, r.idx+1, 0
}

func (r *partsReader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	if err := r.prime(); err != nil {
		return 0, err
	}
	n := int64(len(p))
	n = min(n, r.remaining, r.parts[r.idx].Size-r.off)
	m, err := r.cur.Read(p[:n])
	r.off += int64(m)
	r.remaining -= int64(m)
	if r.off == r.parts[r.idx].Size {
		r.next()
	}
	if err == io.EOF {
		if m == 0 {
			return 0, io.ErrUnexpectedEOF // blob shorter than recorded
		}
		err = nil
	}
	return m, err
}

// WriteTo copies the range to w part by part (letting the response use sendfile).
func (r *partsReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for r.remaining > 0 {
		if err := r.prime(); err != nil {
			return total, err
		}
		n := min(r.remaining, r.parts[r.idx].Size-r.off)
		m, err := io.CopyN(w, r.cur, n)
		total += m
		r.off += m
		r.remaining -= m
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		r.next()
	}
	return total, nil
}

// Close closes the open blob.
func (r *partsReader) Close() error {
	if r.cur != nil {
		r.cur.Close()
		r.cur = nil
	}
	return nil
}

// deleteObject serves DeleteObject (204 in every case S3 answers 204). Without versionId:
// a bucket with versioning Enabled or Suspended gets a delete marker (also for a key that
// never existed), shown by x-amz-delete-marker and x-amz-version-id; an unversioned
// bucket loses the null version. With versionId: that version (or delete marker) is
// removed, and a missing one is not an error.
func (s *Server) deleteObject(rq *request) error {
	vid, err := versionParam(rq.q)
	if err != nil {
		return err
	}
	res, err := s.store.DeleteObject(rq.r.Context(), rq.bucket, rq.key, vid)
	if err != nil {
		return err
	}
	h := rq.w.Header()
	if res.DeleteMarker {
		h.Set("x-amz-delete-marker", "true")
	}
	if vid != "" {
		h.Set("x-amz-version-id", vid)
	} else if res.DeleteMarker {
		h.Set("x-amz-version-id", res.VersionID)
	}
	return writeStatusNoContent(rq)
}

package s3server

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// Conditional requests (If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since
// and their x-amz-copy-source-if-* forms), byte ranges and the conditional writes of
// PutObject / CompleteMultipartUpload.

// errPreconditionFailed answers a condition that did not hold.
var errPreconditionFailed = &apiError{Code: "PreconditionFailed", Status: http.StatusPreconditionFailed, Message: "At least one of the pre-conditions you specified did not hold"}

// condResult is the outcome of evaluating conditional headers.
type condResult int

const (
	condOK          condResult = iota // serve the request
	condNotModified                   // 304 (GET/HEAD only)
	condFailed                        // 412 PreconditionFailed
)

// evalConditions evaluates the conditional headers named prefix+"If-Match" ... against a
// version's ETag (unquoted) and Last-Modified, in the order of RFC 7232 section 6 that S3
// follows: If-Match (when present If-Unmodified-Since is ignored, so a true If-Match with
// a false If-Unmodified-Since serves the object), then If-Unmodified-Since, then
// If-None-Match (when present If-Modified-Since is ignored), then If-Modified-Since.
// Malformed dates are ignored, as S3 does.
func evalConditions(h http.Header, prefix, etag string, lastModified time.Time) condResult {
	lm := lastModified.Truncate(time.Second)
	if im := h.Get(prefix + "If-Match"); im != "" {
		if !etagListMatches(im, etag) {
			return condFailed
		}
	} else if t, ok := headerTime(h, prefix+"If-Unmodified-Since"); ok && lm.After(t) {
		return condFailed
	}
	if inm := h.Get(prefix + "If-None-Match"); inm != "" {
		if etagListMatches(inm, etag) {
			return condNotModified
		}
	} else if t, ok := headerTime(h, prefix+"If-Modified-Since"); ok && !lm.After(t) {
		return condNotModified
	}
	return condOK
}

// headerTime parses an HTTP date header (ok false when absent or malformed).
func headerTime(h http.Header, name string) (time.Time, bool) {
	v := h.Get(name)
	if v == "" {
		return time.Time{}, false
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}

// etagListMatches tells whether a comma-separated list of entity tags (quoted or not,
// W/ prefixes allowed, "*" for any) names etag.
func etagListMatches(list, etag string) bool {
	for _, t := range strings.Split(list, ",") {
		t = strings.TrimSpace(t)
		t = strings.TrimPrefix(t, "W/")
		if t == "*" || strings.Trim(t, `"`) == etag {
			return true
		}
	}
	return false
}

// checkWriteConditions applies S3's conditional writes before a new version of rq.key is
// written: If-None-Match: * fails (412) when the key has a current version, If-Match
// fails when the current version's ETag differs (404 NoSuchKey when there is none). Other
// If-None-Match values are not supported by S3 (NotImplemented). The check runs before
// the write, not atomically with it.
func (s *Server) checkWriteConditions(rq *request) error {
	inm, im := rq.r.Header.Get("If-None-Match"), rq.r.Header.Get("If-Match")
	if inm == "" && im == "" {
		return nil
	}
	if inm != "" && strings.TrimSpace(inm) != "*" {
		return errf("NotImplemented", http.StatusNotImplemented, "A header you provided implies functionality that is not implemented: If-None-Match accepts only *.")
	}
	v, err := s.store.GetVersion(rq.r.Context(), rq.bucket, rq.key, "")
	var dm *store.DeleteMarkerError
	exists := err == nil
	switch {
	case err == nil:
	case errors.Is(err, store.ErrNoSuchKey), errors.As(err, &dm):
	default:
		return err
	}
	if inm != "" && exists {
		return errPreconditionFailed
	}
	if im != "" {
		if !exists {
			return errNoSuchKey
		}
		if !etagListMatches(im, v.ETag) {
			return errPreconditionFailed
		}
	}
	return nil
}

// byteRange is a satisfiable range of an object: length bytes from start.
type byteRange struct {
	start, length int64
}

// contentRange renders the Content-Range header of r in an object of size bytes.
func (r byteRange) contentRange(size int64) string {
	return "bytes " + strconv.FormatInt(r.start, 10) + "-" + strconv.FormatInt(r.start+r.length-1, 10) + "/" + strconv.FormatInt(size, 10)
}

// invalidRange is the 416 answer to an unsatisfiable range of an object of size bytes.
func invalidRange(size int64) *apiError {
	return &apiError{Code: "InvalidRange", Status: http.StatusRequestedRangeNotSatisfiable,
		Message: "The requested range is not satisfiable",
		Headers: map[string]string{"Content-Range": "bytes */" + strconv.FormatInt(size, 10)}}
}

// parseRange parses a Range header against an object of size bytes as S3 does: one range
// "bytes=a-b", "bytes=a-" or "bytes=-n". It returns nil (serve the whole object) for no
// header, a malformed header or several ranges (S3 serves only single ranges and
// ignores the rest), and InvalidRange (416) when the range starts past the end or asks
// for an empty suffix. An end past the object is cut to the object.
func parseRange(h string, size int64) (*byteRange, error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil, nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil, nil
	}
	parse := func(s string) (int64, bool) {
		if s == "" || strings.TrimLeft(s, "0123456789") != "" {
			return 0, false
		}
		n, err := strconv.ParseInt(s, 10, 64)
		return n, err == nil
	}
	if first == "" { // suffix: the last n bytes
		n, ok := parse(last)
		if !ok {
			return nil, nil
		}
		if n == 0 || size == 0 {
			return nil, invalidRange(size)
		}
		n = min(n, size)
		return &byteRange{start: size - n, length: n}, nil
	}
	a, ok := parse(first)
	if !ok {
		return nil, nil
	}
	end := size - 1
	if last != "" {
		b, ok := parse(last)
		if !ok || b < a {
			return nil, nil
		}
		end = min(b, size-1)
	}
	if a >= size {
		return nil, invalidRange(size)
	}
	return &byteRange{start: a, length: end - a + 1}, nil
}

// parseCopySourceRange parses x-amz-copy-source-range ("bytes=first-last", both required)
// against a source of size bytes. An absent header means the whole source (nil).
func parseCopySourceRange(h string, size int64) (*byteRange, error) {
	if h == "" {
		return nil, nil
	}
	bad := errf("InvalidArgument", http.StatusBadRequest, "The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok {
		return nil, bad
	}
	first, last, ok := strings.Cut(spec, "-")
	digits := func(s string) bool { return s != "" && strings.TrimLeft(s, "0123456789") == "" }
	if !ok || !digits(first) || !digits(last) {
		return nil, bad
	}
	a, err1 := strconv.ParseInt(first, 10, 64)
	b, err2 := strconv.ParseInt(last, 10, 64)
	if err1 != nil || err2 != nil || b < a {
		return nil, bad
	}
	if b >= size {
		return nil, errf("InvalidArgument", http.StatusBadRequest, "Range specified is not valid for source object of size: %d", size)
	}
	return &byteRange{start: a, length: b - a + 1}, nil
}

package s3server

import (
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/backbeat-temporal/backbeat/bbproto/bucketpolicy"
	"github.com/backbeat-temporal/backbeat/s3server/replconf"
	"github.com/backbeat-temporal/backbeat/s3server/sigv4"
	"github.com/backbeat-temporal/backbeat/s3server/store"
)

// apiError is an S3 error answer: code, HTTP status and message.
type apiError struct {
	Code    string
	Status  int
	Message string
	// Headers are extra response headers (x-amz-delete-marker, x-amz-version-id...).
	Headers map[string]string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%d): %s", e.Code, e.Status, e.Message) }

// errf builds an apiError.
func errf(code string, status int, format string, args ...any) *apiError {
	return &apiError{Code: code, Status: status, Message: fmt.Sprintf(format, args...)}
}

// Common S3 errors.
var (
	errNotImplemented   = &apiError{Code: "NotImplemented", Status: http.StatusNotImplemented, Message: "A header or query you provided implies functionality that is not implemented."}
	errAccessDenied     = &apiError{Code: "AccessDenied", Status: http.StatusForbidden, Message: "Access Denied"}
	errMalformedXML     = &apiError{Code: "MalformedXML", Status: http.StatusBadRequest, Message: "The XML you provided was not well-formed or did not validate against our published schema."}
	errMethodNotAllowed = &apiError{Code: "MethodNotAllowed", Status: http.StatusMethodNotAllowed, Message: "The specified method is not allowed against this resource."}
	errNoSuchBucket     = &apiError{Code: "NoSuchBucket", Status: http.StatusNotFound, Message: "The specified bucket does not exist"}
	errNoSuchKey        = &apiError{Code: "NoSuchKey", Status: http.StatusNotFound, Message: "The specified key does not exist."}
	errNoSuchVersion    = &apiError{Code: "NoSuchVersion", Status: http.StatusNotFound, Message: "The specified version does not exist."}
	errNoSuchUpload     = &apiError{Code: "NoSuchUpload", Status: http.StatusNotFound, Message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed."}
	errInternal         = &apiError{Code: "InternalError", Status: http.StatusInternalServerError, Message: "We encountered an internal error. Please try again."}
	errKeyTooLong       = &apiError{Code: "KeyTooLongError", Status: http.StatusBadRequest, Message: "Your key is too long"}
	// errRequestTimeout answers a request whose body stalled for longer than the idle
	// timeout; the connection is closed after it, as S3.
	errRequestTimeout = &apiError{Code: "RequestTimeout", Status: http.StatusBadRequest,
		Message: "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.",
		Headers: map[string]string{"Connection": "close"}}
	// errInvalidURI answers a key (in the path, a copy source or a DeleteObjects body)
	// that is not valid UTF-8, as S3.
	errInvalidURI = &apiError{Code: "InvalidURI", Status: http.StatusBadRequest, Message: "Couldn't parse the specified URI."}
)

// toAPIError maps any error to the S3 error to answer.
func toAPIError(err error) *apiError {
	var ae *apiError
	if errors.As(err, &ae) {
		return ae
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		return &apiError{Code: se.Code, Status: se.Status, Message: se.Message}
	}
	var pe *bucketpolicy.Error
	if errors.As(err, &pe) {
		return &apiError{Code: "MalformedPolicy", Status: http.StatusBadRequest, Message: pe.Message}
	}
	var ce *consentError
	if errors.As(err, &ce) {
		return &apiError{Code: "AccessDenied", Status: http.StatusForbidden, Message: ce.msg}
	}
	var rc *store.ReplicaConflictError
	if errors.As(err, &rc) {
		return &apiError{Code: "ReplicaConflict", Status: http.StatusConflict, Message: replicaConflictMessage(rc)}
	}
	var ve *replconf.ValidationError
	if errors.As(err, &ve) {
		return &apiError{Code: ve.Code, Status: http.StatusBadRequest, Message: ve.Message}
	}
	var dm *store.DeleteMarkerError
	if errors.As(err, &dm) {
		e := *errNoSuchKey
		e.Headers = map[string]string{"x-amz-delete-marker": "true", "x-amz-version-id": dm.VersionID}
		return &e
	}
	switch {
	case errors.Is(err, store.ErrNoSuchBucket):
		return errNoSuchBucket
	case errors.Is(err, store.ErrNoSuchKey):
		return errNoSuchKey
	case errors.Is(err, store.ErrNoSuchVersion):
		return errNoSuchVersion
	case errors.Is(err, store.ErrNoSuchUpload):
		return errNoSuchUpload
	case errors.Is(err, store.ErrKeyNotUTF8):
		return errInvalidURI
	case errors.Is(err, store.ErrInvalidKey):
		if strings.Contains(err.Error(), "longer than") { // see store.checkKey
			return errKeyTooLong
		}
		return errf("InvalidArgument", http.StatusBadRequest, "Invalid key or version id: %s", strings.TrimPrefix(err.Error(), store.ErrInvalidKey.Error()+": "))
	case errors.Is(err, store.ErrBucketExists):
		return errf("BucketAlreadyExists", http.StatusConflict, "The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.")
	case errors.Is(err, store.ErrBucketAlreadyOwnedByYou):
		return errf("BucketAlreadyOwnedByYou", http.StatusConflict, "Your previous request to create the named bucket succeeded and you already own it.")
	case errors.Is(err, store.ErrBucketNotEmpty):
		return errf("BucketNotEmpty", http.StatusConflict, "The bucket you tried to delete is not empty")
	case errors.Is(err, store.ErrInvalidPart):
		return errf("InvalidPart", http.StatusBadRequest, "One or more of the specified parts could not be found. The part may not have been uploaded, or the specified entity tag may not match the part's entity tag.")
	case errors.Is(err, store.ErrInvalidPartOrder):
		return errf("InvalidPartOrder", http.StatusBadRequest, "The list of parts was not in ascending order. Parts must be ordered by part number.")
	case errors.Is(err, store.ErrEntityTooSmall):
		return errf("EntityTooSmall", http.StatusBadRequest, "Your proposed upload is smaller than the minimum allowed object size.")
	case errors.Is(err, store.ErrNoReplicationConfig):
		return errf("ReplicationConfigurationNotFoundError", http.StatusNotFound, "The replication configuration was not found")
	case errors.Is(err, store.ErrVersioningNotEnabled):
		return errf("InvalidRequest", http.StatusBadRequest, "Versioning must be 'Enabled' on the bucket to apply a replication configuration")
	}
	return errInternal
}

// errorBody is the S3 XML error document.
type errorBody struct {
	XMLName   xml.Name `xml:"Error"`
	Code      string   `xml:"Code"`
	Message   string   `xml:"Message"`
	Resource  string   `xml:"Resource,omitempty"`
	RequestID string   `xml:"RequestId"`
}

// replicaConflictMessage says which version was kept and why.
func replicaConflictMessage(e *store.ReplicaConflictError) string {
	if e.Replica {
		return fmt.Sprintf("target bucket %s already holds version %s of %s as a replica of bucket %s (account %s); it was kept: a replica never replaces a replica of another source. Replicate into another bucket, or remove that version if it is no longer wanted.", e.Bucket, e.VersionID, e.Key, e.SourceBucket, e.SourceAccount)
	}
	return fmt.Sprintf("target bucket %s already holds its own version %s of %s; it was kept: a replica never replaces a version that is not a replica of the same source. Replicate into another bucket, or remove that version if it is no longer wanted.", e.Bucket, e.VersionID, e.Key)
}

package activities

import (
	"context"
	"errors"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"net/http"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"

	"github.com/backbeat-temporal/backbeat/contract"
)

// Error is a classified replication failure. Reason says what happened and what a
// human can do about it; Err is the underlying error.
type Error struct {
	Kind   contract.ErrorKind
	Reason string
	Err    error
}

func newError(kind contract.ErrorKind, reason string, err error) *Error {
	return &Error{Kind: kind, Reason: reason, Err: err}
}

func (e *Error) Error() string {
	if e.Err == nil {
		return e.Reason
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Retryable tells whether another attempt may succeed.
func (e *Error) Retryable() bool { return e.Kind == contract.KindRetryable }

// KindOf returns the kind of err: the Kind of an *Error in its chain, else
// contract.KindRetryable.
func KindOf(err error) contract.ErrorKind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return contract.KindRetryable
}

// S3Error is an error answer of an S3 endpoint or of s3server's privileged routes
// (S3 XML or the routes' JSON {"code","message","requestId"}).
type S3Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
}

func (e *S3Error) Error() string {
	code := e.Code
	if code == "" {
		code = http.StatusText(e.Status)
	}
	if e.Message == "" {
		return fmt.Sprintf("%s (%d)", code, e.Status)
	}
	return fmt.Sprintf("%s (%d): %s", code, e.Status, e.Message)
}

// ErrorCode is the S3 error code (smithy.APIError's method name).
func (e *S3Error) ErrorCode() string { return e.Code }

// apiError extracts the S3 error code and HTTP status of err (an *S3Error or an
// aws-sdk-go-v2 error); ok is false for errors that are not answers (network...).
func apiError(err error) (code string, status int, ok bool) {
	var se *S3Error
	if errors.As(err, &se) {
		return se.Code, se.Status, true
	}
	var be *bbproto.Error
	if errors.As(err, &be) {
		return be.Code, be.Status, true
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status, ok = re.HTTPStatusCode(), true
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code, ok = ae.ErrorCode(), true
	}
	return code, status, ok
}

// Error codes that say the credentials are refused.
var accessDeniedCodes = map[string]bool{
	"AccessDenied": true, "InvalidAccessKeyId": true, "SignatureDoesNotMatch": true,
	"Forbidden": true, "ExpiredToken": true, "InvalidToken": true, "AccountProblem": true,
	"AllAccessDisabled": true, "InvalidSecurity": true, "TokenRefreshRequired": true,
}

// Error codes of requests that would fail the same way again.
var nonRetryableCodes = map[string]bool{
	"InvalidArgument": true, "MetadataTooLarge": true, "EntityTooLarge": true,
	"InvalidStorageClass": true, "InvalidTag": true, "MalformedJSON": true, "MalformedXML": true,
	"KeyTooLongError": true, "InvalidBucketName": true, "InvalidRequest": true,
	"InvalidObjectState": true, "NotImplemented": true, "MethodNotAllowed": true,
	"UnexpectedContent": true, "InvalidURI": true, "MissingContentLength": true,
}

// side says where a failed request went, for the reasons of errors.
type side struct {
	source bool
	site   Site   // the target site, or the source
	bucket string // the bucket of the request
}

// classify wraps err in an *Error whose kind and reason say what to do. what names the
// request ("read the source version", "write the replica"...).
func classify(err error, sd side, what string) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	where := sd.site.where()
	role := "target " + where
	if sd.source {
		role = "source s3server at " + sd.site.Endpoint
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return newError(contract.KindRetryable, fmt.Sprintf("%s: interrupted", what), err)
	}
	code, status, ok := apiError(err)
	if !ok {
		return newError(contract.KindRetryable, fmt.Sprintf("%s: %s unreachable or the connection failed", what, role), err)
	}
	var se *S3Error
	switch {
	case !sd.source && code == "AccessDenied" && errors.As(err, &se) && strings.Contains(se.Message, "s3:Replicate"):
		// The target's owner does not (or no longer) consent to replicas from the source.
		return newError(contract.KindAccessDenied, fmt.Sprintf("%s: the %s refused the replica: %s", what, role, se.Message), err)
	case code == "ReplicaConflict":
		msg := "the target holds another version under this version id"
		if errors.As(err, &se) && se.Message != "" {
			msg = se.Message
		}
		return newError(contract.KindNonRetryable, fmt.Sprintf("%s: %s", what, msg), err)
	case accessDeniedCodes[code] || (code == "" && status == http.StatusForbidden):
		if sd.source {
			return newError(contract.KindAccessDenied, fmt.Sprintf("%s: the %s refused the replication identity (%s): give the worker the credentials of the account marked \"replication\" in the source's accounts file", what, role, code), err)
		}
		fix := "fix accessKey/secretKey/profile of site " + fmt.Sprintf("%q", sd.site.Name) + " in the sites file"
		if sd.site.Kind == KindS3Server {
			fix += " (an s3server target needs the account marked \"replication\" in its accounts file)"
		}
		return newError(contract.KindAccessDenied, fmt.Sprintf("%s: the %s refused the credentials (%s): %s", what, role, code, fix), err)
	case code == "AuthorizationHeaderMalformed":
		return newError(contract.KindInvalidConfig, fmt.Sprintf("%s: the %s refused the signature's scope (%s): check the region of the site", what, role, code), err)
	case code == "NoSuchBucket":
		if sd.source {
			return newError(contract.KindNoSuchBucket, fmt.Sprintf("%s: source bucket %s no longer exists at %s", what, sd.bucket, sd.site.Endpoint), err)
		}
		return newError(contract.KindNoSuchBucket, fmt.Sprintf("%s: target bucket %s does not exist at %s: create it (versioning Enabled) or fix the replication rule's destination", what, sd.bucket, where), err)
	case sd.source && (code == "NoSuchVersion" || code == "NoSuchKey"):
		return newError(contract.KindSourceGone, fmt.Sprintf("%s: source version no longer exists", what), err)
	case !sd.source && code == "InvalidRequest" && strings.Contains(strings.ToLower(err.Error()), "versioning"):
		return newError(contract.KindInvalidConfig, fmt.Sprintf("%s: target bucket %s at %s refuses replicas: enable versioning on it", what, sd.bucket, where), err)
	case !sd.source && sd.site.Kind == KindS3Server && (code == "NotFound" || code == "NotImplemented" || code == "MethodNotAllowed"):
		return newError(contract.KindInvalidConfig, fmt.Sprintf("%s: the %s does not serve s3server's replica routes (%s): set \"kind\":\"s3\" for a plain S3 target", what, role, code), err)
	case nonRetryableCodes[code]:
		return newError(contract.KindNonRetryable, fmt.Sprintf("%s: the %s refused the request (%s)", what, role, code), err)
	}
	return newError(contract.KindRetryable, fmt.Sprintf("%s: the %s answered %d %s", what, role, status, code), err)
}

// s3Code is the S3 error code of err, "" when it is not an answer.
func s3Code(err error) string {
	code, _, _ := apiError(err)
	return code
}

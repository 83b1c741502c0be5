// Package sigv4 verifies AWS Signature Version 4 requests for s3server: header
// authorization, presigned URLs (query authorization), and the payload modes
// (a hex SHA-256, UNSIGNED-PAYLOAD, and aws-chunked streaming payloads with chunk
// signatures and/or trailing checksums).
package sigv4

import (
	"fmt"
	"net/http"
	"time"
)

// Error codes, as S3 names them; Error.Code holds one.
const (
	CodeAccessDenied                      = "AccessDenied"
	CodeInvalidAccessKeyID                = "InvalidAccessKeyId"
	CodeSignatureDoesNotMatch             = "SignatureDoesNotMatch"
	CodeAuthorizationHeaderMalformed      = "AuthorizationHeaderMalformed"
	CodeAuthorizationQueryParametersError = "AuthorizationQueryParametersError"
	CodeRequestTimeTooSkewed              = "RequestTimeTooSkewed"
	CodeMissingSecurityHeader             = "MissingSecurityHeader"
	CodeXAmzContentSHA256Mismatch         = "XAmzContentSHA256Mismatch"
	CodeInvalidRequest                    = "InvalidRequest"
	CodeInvalidArgument                   = "InvalidArgument"
	CodeIncompleteBody                    = "IncompleteBody"
	CodeBadDigest                         = "BadDigest"
	CodeExpiredToken                      = "AccessDenied" // presigned URL expired: AccessDenied "Request has expired"
	// CodeMissingContentLength answers a streaming upload without
	// x-amz-decoded-content-length (411, as S3).
	CodeMissingContentLength = "MissingContentLength"
)

// Error is a verification failure with the S3 error code and HTTP status to answer.
type Error struct {
	Code    string
	Status  int
	Message string
}

// Error formats the code and message.
func (e *Error) Error() string { return fmt.Sprintf("sigv4: %s: %s", e.Code, e.Message) }

// Credentials resolves an access key to its secret. ok is false for an unknown key.
type Credentials interface {
	Secret(accessKey string) (secret string, ok bool)
}

// Result is a verified request.
type Result struct {
	// AccessKey that signed the request; empty for an anonymous request.
	AccessKey string
	// Anonymous is true when the request carried no authorization at all.
	Anonymous bool
	// Body replaces the request body: it decodes aws-chunked framing, checks chunk
	// signatures and trailing checksums, and checks the declared payload SHA-256 at EOF
	// (reading returns an *Error at EOF on mismatch). Always non-nil.
	Body ReadCloser
	// DecodedLength is the payload length without aws-chunked framing
	// (x-amz-decoded-content-length), or r.ContentLength; -1 when unknown.
	DecodedLength int64
	// Trailer holds trailing headers (e.g. x-amz-checksum-crc32) once Body hit EOF.
	Trailer http.Header
}

// ReadCloser is the verified body.
type ReadCloser interface {
	Read(p []byte) (int, error)
	Close() error
}

// Verifier checks requests against Credentials.
type Verifier struct {
	// Creds resolves access keys. Required.
	Creds Credentials
	// Region accepted in the credential scope; "" accepts any region. Default "".
	Region string
	// MaxSkew is the largest allowed difference between the request time and now.
	// Default 15 minutes, as S3.
	MaxSkew time.Duration
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Verify checks r's signature (header or query authorization; none at all gives an
// anonymous Result) and returns the verified body to read instead of r.Body.
// The signature covers the method, the path as sent (r.URL.EscapedPath / RawPath), the
// query, and every signed header; an x-amz-* header that is not signed is refused
// (AccessDenied). The payload is checked per x-amz-content-sha256.
func (v *Verifier) Verify(r *http.Request) (*Result, error) { return v.verify(r) }

package sigv4

import (
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Defaults of Verifier.
const (
	// DefaultMaxSkew is the clock skew allowed when Verifier.MaxSkew is zero.
	DefaultMaxSkew = 15 * time.Minute
	// MaxPresignExpires is the longest validity of a presigned URL (a week, as S3).
	MaxPresignExpires = 604800
)

const (
	iso8601Basic = "20060102T150405Z"
	scopeDate    = "20060102"
	service      = "s3"
	terminator   = "aws4_request"
)

// Payload hash values of x-amz-content-sha256.
const (
	unsignedPayload              = "UNSIGNED-PAYLOAD"
	streamingPayload             = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	streamingPayloadTrailer      = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
	streamingUnsignedPayloadTrlr = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
)

// Messages S3 answers with.
const (
	msgSignatureMismatch = "The request signature we calculated does not match the signature you provided. Check your key and signing method."
	msgUnknownKey        = "The AWS Access Key Id you provided does not exist in our records."
	msgMissingDate       = "AWS authentication requires a valid Date or x-amz-date header"
	msgSkewed            = "The difference between the request time and the current time is too large."
	msgNotSigned         = "There were headers present in the request which were not signed"
	msgCredential        = "the Credential is mal-formed; expecting \"<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request\"."
	msgBadContentSHA256  = "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a valid sha256 value."
	msgUnsupportedAuth   = "The authorization mechanism you have provided is not supported; only AWS4-HMAC-SHA256 is supported."
	msgQueryParams       = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
)

func newErr(code string, status int, format string, args ...any) *Error {
	msg := format
	if len(args) > 0 {
		msg = fmt.Sprintf(format, args...)
	}
	return &Error{Code: code, Status: status, Message: msg}
}

func headerMalformed(format string, args ...any) *Error {
	return newErr(CodeAuthorizationHeaderMalformed, http.StatusBadRequest,
		"The authorization header is malformed; %s", fmt.Sprintf(format, args...))
}

func queryError(format string, args ...any) *Error {
	return newErr(CodeAuthorizationQueryParametersError, http.StatusBadRequest, format, args...)
}

func errSignature() *Error {
	return newErr(CodeSignatureDoesNotMatch, http.StatusForbidden, msgSignatureMismatch)
}

// credential is the parsed Credential of a request.
type credential struct {
	accessKey, date, region, service string
}

func (c credential) scope() string {
	return c.date + "/" + c.region + "/" + c.service + "/" + terminator
}

// parseCredential splits "AK/YYYYMMDD/region/service/aws4_request". The returned
// string is the fault, to phrase per authorization kind; "" when well formed.
func parseCredential(s string) (credential, string) {
	parts := strings.Split(s, "/")
	if len(parts) != 5 || parts[0] == "" || parts[2] == "" {
		return credential{}, msgCredential
	}
	c := credential{accessKey: parts[0], date: parts[1], region: parts[2], service: parts[3]}
	if _, err := time.Parse(scopeDate, c.date); err != nil || len(c.date) != 8 {
		return credential{}, fmt.Sprintf("invalid credential date %q.", c.date)
	}
	if c.service != service {
		return credential{}, fmt.Sprintf("incorrect service %q. This endpoint belongs to %q.", c.service, service)
	}
	if parts[4] != terminator {
		return credential{}, fmt.Sprintf("incorrect terminal %q. This endpoint uses %q.", parts[4], terminator)
	}
	return c, ""
}

// parseSignedHeaders splits "a;b;c"; names must be lower-case header tokens.
func parseSignedHeaders(s string) ([]string, bool) {
	if s == "" {
		return nil, false
	}
	names := strings.Split(s, ";")
	for _, n := range names {
		if n == "" {
			return nil, false
		}
		for i := 0; i < len(n); i++ {
			c := n[i]
			if 'A' <= c && c <= 'Z' || c <= ' ' || c >= 0x7f || strings.IndexByte("\"(),/:;<=>?@[\\]{}", c) >= 0 {
				return nil, false
			}
		}
	}
	return names, true
}

// authInfo is what either authorization kind carries.
type authInfo struct {
	cred        credential
	signed      []string
	signature   string
	amzDate     string // ISO 8601 basic, as in the string to sign
	payloadHash string // the hash in the canonical request
	presigned   bool
}

func (v *Verifier) now() time.Time {
	if v.Now != nil {
		return v.Now()
	}
	return time.Now()
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func (v *Verifier) verify(r *http.Request) (*Result, error) {
	query := parseQuery(r.URL.RawQuery)
	authz, hasAuthz := r.Header["Authorization"]
	_, hasAlgo := queryGet(query, "X-Amz-Algorithm")
	var (
		a   *authInfo
		err error
	)
	switch {
	case hasAuthz && hasAlgo:
		return nil, newErr(CodeInvalidArgument, http.StatusBadRequest,
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case hasAuthz:
		if len(authz) != 1 {
			return nil, headerMalformed("only one Authorization header is allowed.")
		}
		a, err = v.headerAuth(r, authz[0])
	case hasAlgo:
		a, err = v.queryAuth(r, query)
	default:
		_, v2key := queryGet(query, "AWSAccessKeyId")
		_, v2sig := queryGet(query, "Signature")
		if v2key || v2sig {
			return nil, newErr(CodeInvalidArgument, http.StatusBadRequest, msgUnsupportedAuth)
		}
		return v.anonymous(r)
	}
	if err != nil {
		return nil, err
	}
	mode, err := parsePayloadMode(a.payloadHash)
	if err != nil {
		return nil, err
	}
	if err := checkAllSigned(r, a, query); err != nil {
		return nil, err
	}
	if v.Creds == nil {
		return nil, newErr(CodeInvalidAccessKeyID, http.StatusForbidden, msgUnknownKey)
	}
	secret, ok := v.Creds.Secret(a.cred.accessKey)
	if !ok {
		return nil, newErr(CodeInvalidAccessKeyID, http.StatusForbidden, msgUnknownKey)
	}
	key := signingKey(secret, a.cred.date, a.cred.region, a.cred.service)
	scope := a.cred.scope()
	canonical := canonicalRequest(r, query, a.presigned, a.signed, a.payloadHash)
	if !signatureOK(key, stringToSign(a.amzDate, scope, canonical), a.signature) {
		return nil, errSignature()
	}
	res := &Result{AccessKey: a.cred.accessKey, Trailer: http.Header{}}
	sc := &chunkSigner{key: key, amzDate: a.amzDate, scope: scope, seed: strings.ToLower(a.signature)}
	if err := newBody(r, mode, a.payloadHash, sc, res); err != nil {
		return nil, err
	}
	return res, nil
}

// anonymous answers a request without any authorization; its body is still decoded
// and checked per x-amz-content-sha256 and x-amz-checksum-*, but signed streaming
// payloads are refused.
func (v *Verifier) anonymous(r *http.Request) (*Result, error) {
	res := &Result{Anonymous: true, Trailer: http.Header{}}
	ph := r.Header.Get("X-Amz-Content-Sha256")
	mode := modeUnsigned
	if ph != "" {
		var err error
		if mode, err = parsePayloadMode(ph); err != nil {
			return nil, err
		}
		if mode == modeStreaming || mode == modeStreamingTrailer {
			return nil, newErr(CodeAccessDenied, http.StatusForbidden,
				"A signed streaming payload requires an authenticated request.")
		}
	}
	if err := newBody(r, mode, ph, nil, res); err != nil {
		return nil, err
	}
	return res, nil
}

// headerAuth parses and checks an Authorization header (all but the signature): its
// components, the credential's scope, the signed headers, the request's date and the
// payload hash header.
func (v *Verifier) headerAuth(r *http.Request, h string) (*authInfo, error) {
	cred, signed, sig, err := authorizationComponents(h)
	if err != nil {
		return nil, err
	}
	c, fault := parseCredential(cred)
	if fault != "" {
		return nil, headerMalformed("%s", fault)
	}
	if v.Region != "" && c.region != v.Region {
		return nil, headerMalformed("the region '%s' is wrong; expecting '%s'", c.region, v.Region)
	}
	names, ok := parseSignedHeaders(signed)
	if !ok {
		return nil, headerMalformed("the SignedHeaders component %q is malformed.", signed)
	}
	if !contains(names, "host") {
		return nil, headerMalformed("the SignedHeaders component must include host.")
	}
	t, amzDate, err := requestTime(r)
	if err != nil {
		return nil, err
	}
	if c.date != t.Format(scopeDate) {
		return nil, headerMalformed("Invalid credential date %q. This date is not the same as X-Amz-Date: %q.", c.date, t.Format(scopeDate))
	}
	if skew := v.now().Sub(t); skew > v.maxSkew() || skew < -v.maxSkew() {
		return nil, newErr(CodeRequestTimeTooSkewed, http.StatusForbidden, msgSkewed)
	}
	ph, ok := headerValue(r, "X-Amz-Content-Sha256")
	if !ok {
		return nil, newErr(CodeInvalidRequest, http.StatusBadRequest,
			"Missing required header for this request: x-amz-content-sha256")
	}
	return &authInfo{cred: c, signed: names, signature: sig, amzDate: amzDate, payloadHash: ph}, nil
}

// authorizationComponents splits an Authorization header of the SigV4 algorithm into its
// Credential, SignedHeaders and Signature components, each required once.
func authorizationComponents(h string) (cred, signed, sig string, err error) {
	alg, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	if alg != algorithm {
		if strings.HasPrefix(alg, "AWS") && alg != "" {
			return "", "", "", newErr(CodeInvalidArgument, http.StatusBadRequest, msgUnsupportedAuth)
		}
		return "", "", "", headerMalformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	var haveCred, haveSigned, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			return "", "", "", headerMalformed("the authorization component %q is malformed.", part)
		}
		var dst *string
		var seen *bool
		switch k {
		case "Credential":
			dst, seen = &cred, &haveCred
		case "SignedHeaders":
			dst, seen = &signed, &haveSigned
		case "Signature":
			dst, seen = &sig, &haveSig
		default:
			return "", "", "", headerMalformed("the authorization component %q is malformed.", part)
		}
		if *seen {
			return "", "", "", headerMalformed("the authorization component %q is repeated.", k)
		}
		*dst, *seen = val, true
	}
	if !haveCred || !haveSigned || !haveSig {
		return "", "", "", headerMalformed("the authorization header requires three components: Credential, SignedHeaders, and Signature.")
	}
	return cred, signed, sig, nil
}

// requestTime returns the request's signing time from X-Amz-Date, else Date (an HTTP
// date), and that time in the ISO 8601 basic form the string to sign uses.
func requestTime(r *http.Request) (t time.Time, amzDate string, err error) {
	if xd := r.Header.Get("X-Amz-Date"); xd != "" {
		t, ok := parseAmzDate(xd)
		if !ok {
			return time.Time{}, "", newErr(CodeAccessDenied, http.StatusForbidden, msgMissingDate)
		}
		return t, xd, nil
	}
	if d := r.Header.Get("Date"); d != "" {
		t, err := http.ParseTime(d)
		if err != nil {
			return time.Time{}, "", newErr(CodeAccessDenied, http.StatusForbidden, msgMissingDate)
		}
		t = t.UTC()
		return t, t.Format(iso8601Basic), nil
	}
	return time.Time{}, "", newErr(CodeAccessDenied, http.StatusForbidden, msgMissingDate)
}

// queryAuth parses and checks presigned-URL parameters (all but the signature).
func (v *Verifier) queryAuth(r *http.Request, q []queryPair) (*authInfo, error) {
	get := func(k string) (string, bool) { return queryGet(q, k) }
	alg, ok1 := get("X-Amz-Algorithm")
	cred, ok2 := get("X-Amz-Credential")
	date, ok3 := get("X-Amz-Date")
	expires, ok4 := get("X-Amz-Expires")
	signed, ok5 := get("X-Amz-SignedHeaders")
	sig, ok6 := get("X-Amz-Signature")
	if alg != algorithm {
		return nil, queryError("X-Amz-Algorithm only supports \"%s\"", algorithm)
	}
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return nil, queryError(msgQueryParams)
	}
	c, fault := parseCredential(cred)
	if fault != "" {
		return nil, queryError("Error parsing the X-Amz-Credential parameter; %s", fault)
	}
	if v.Region != "" && c.region != v.Region {
		return nil, queryError("Error parsing the X-Amz-Credential parameter; the region '%s' is wrong; expecting '%s'", c.region, v.Region)
	}
	t, ok := parseAmzDate(date)
	if !ok {
		return nil, queryError("X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"")
	}
	if c.date != t.Format(scopeDate) {
		return nil, queryError("Error parsing the X-Amz-Credential parameter; Invalid credential date %q. This date is not the same as X-Amz-Date: %q.", c.date, t.Format(scopeDate))
	}
	exp, err := strconv.ParseInt(expires, 10, 64)
	switch {
	case err != nil:
		return nil, queryError("X-Amz-Expires should be a number")
	case exp < 1:
		return nil, queryError("X-Amz-Expires must be positive")
	case exp > MaxPresignExpires:
		return nil, queryError("X-Amz-Expires must be less than a week (in seconds) that is %d", MaxPresignExpires)
	}
	names, ok := parseSignedHeaders(signed)
	if !ok {
		return nil, queryError("X-Amz-SignedHeaders %q is malformed", signed)
	}
	if !contains(names, "host") {
		return nil, queryError("X-Amz-SignedHeaders must include host")
	}
	now := v.now()
	if t.After(now.Add(v.maxSkew())) {
		return nil, newErr(CodeAccessDenied, http.StatusForbidden, "Request is not valid yet")
	}
	if now.After(t.Add(time.Duration(exp) * time.Second)) {
		return nil, newErr(CodeExpiredToken, http.StatusForbidden, "Request has expired")
	}
	ph, ok := get("X-Amz-Content-Sha256")
	if !ok {
		ph = unsignedPayload
	}
	return &authInfo{cred: c, signed: names, signature: sig, amzDate: date, payloadHash: ph, presigned: true}, nil
}

// checkAllSigned refuses x-amz-* headers that the signature does not cover (for a
// presigned URL, those also passed as query parameters are allowed).
func checkAllSigned(r *http.Request, a *authInfo, q []queryPair) error {
	for k := range r.Header {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-") || contains(a.signed, lk) {
			continue
		}
		if a.presigned && queryHasFold(q, lk) {
			continue
		}
		return newErr(CodeAccessDenied, http.StatusForbidden, msgNotSigned)
	}
	return nil
}

func queryHasFold(q []queryPair, key string) bool {
	for _, p := range q {
		if strings.EqualFold(p.key, key) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// headerValue returns the first value of a header and whether it is present.
func headerValue(r *http.Request, name string) (string, bool) {
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		return "", false
	}
	return strings.TrimSpace(vs[0]), true
}

func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(iso8601Basic) {
		return time.Time{}, false
	}
	t, err := time.Parse(iso8601Basic, s)
	return t, err == nil
}

// payloadMode is how the body is carried, per x-amz-content-sha256.
type payloadMode int

const (
	modeHex                      payloadMode = iota // body SHA-256 given in hex
	modeUnsigned                                    // UNSIGNED-PAYLOAD
	modeStreaming                                   // signed aws-chunked
	modeStreamingTrailer                            // signed aws-chunked with signed trailers
	modeStreamingUnsignedTrailer                    // unsigned aws-chunked with trailers
)

func parsePayloadMode(s string) (payloadMode, error) {
	switch s {
	case unsignedPayload:
		return modeUnsigned, nil
	case streamingPayload:
		return modeStreaming, nil
	case streamingPayloadTrailer:
		return modeStreamingTrailer, nil
	case streamingUnsignedPayloadTrlr:
		return modeStreamingUnsignedTrailer, nil
	}
	if len(s) == 64 {
		if _, err := hex.DecodeString(s); err == nil {
			return modeHex, nil
		}
	}
	return 0, newErr(CodeInvalidArgument, http.StatusBadRequest, msgBadContentSHA256)
}

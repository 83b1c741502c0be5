package sigv4

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnonymous(t *testing.T) {
	v := newTestVerifier()
	r := toServer(t, clientRequest(t, http.MethodPut, "http://s3.local/b/k", []byte("hello")))
	res, data, err := verifyRead(t, v, r)
	require.NoError(t, err)
	assert.True(t, res.Anonymous)
	assert.Empty(t, res.AccessKey)
	assert.Equal(t, int64(5), res.DecodedLength)
	assert.Equal(t, "hello", string(data))

	// no body at all: Body is still non-nil
	r = clientRequest(t, http.MethodGet, "http://s3.local/b/k", nil)
	r.Body = nil
	res, data, err = verifyRead(t, v, r)
	require.NoError(t, err)
	assert.True(t, res.Anonymous)
	assert.Empty(t, data)

	// a SigV2 presigned URL is not mistaken for an anonymous request
	r = clientRequest(t, http.MethodGet, "http://s3.local/b/k?AWSAccessKeyId=AK&Signature=x&Expires=1", nil)
	_, err = v.Verify(r)
	requireCode(t, err, CodeInvalidArgument, 400)
}

func TestHeaderAuthSDKSigned(t *testing.T) {
	body := []byte("some object data\n")
	cases := []struct {
		name, method, url string
		body              []byte
		unsigned          bool
	}{
		{"get", http.MethodGet, "http://s3.local/bucket/key", nil, false},
		{"get root", http.MethodGet, "http://s3.local", nil, false},
		{"get bucket slash", http.MethodGet, "http://s3.local/bucket/", nil, false},
		{"delete", http.MethodDelete, "http://s3.local/bucket/key", nil, false},
		{"put hex", http.MethodPut, "http://s3.local/bucket/key", body, false},
		{"put unsigned", http.MethodPut, "http://s3.local/bucket/key", body, true},
		{"space", http.MethodPut, "http://s3.local/bucket/a%20b/c%20d.txt", body, false},
		{"unicode", http.MethodGet, "http://s3.local/bucket/%E2%82%AC/%C3%A9t%C3%A9", nil, false},
		{"plus", http.MethodGet, "http://s3.local/bucket/a%2Bb+c", nil, false},
		{"encoded slash", http.MethodGet, "http://s3.local/bucket/a%2Fb/c", nil, false},
		{"reserved chars", http.MethodGet, "http://s3.local/bucket/%21%2A%27%28%29%3A%40%26%3D%24%2C%3B", nil, false},
		{"double slash", http.MethodGet, "http://s3.local/bucket//x/../y/./z", nil, false},
		{"subresource", http.MethodGet, "http://s3.local/bucket?versioning", nil, false},
		{"empty values", http.MethodGet, "http://s3.local/bucket?list-type=2&prefix=&delimiter=%2F&start-after", nil, false},
		{"query encodings", http.MethodGet, "http://s3.local/bucket/k?response-content-disposition=attachment%3B%20filename%3D%22a%20b.txt%22&versionId=a%2Bb&x=%E2%82%AC", nil, false},
		{"repeated keys", http.MethodGet, "http://s3.local/bucket?b=2&a=z&a=y", nil, false},
		{"tagging", http.MethodPut, "http://s3.local/bucket/key?tagging", []byte("<Tagging/>"), false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerifier()
			r := clientRequest(t, c.method, c.url, c.body)
			r.Header.Set("X-Amz-Meta-Color", "  blue   and  green ")
			r.Header.Set("Content-Type", "text/plain")
			ph := hexSHA256(c.body)
			if c.unsigned {
				ph = "UNSIGNED-PAYLOAD"
			}
			signHeader(t, r, ph, testNow.Add(-3*time.Minute))
			sr := toServer(t, r)
			res, data, err := verifyRead(t, v, sr)
			require.NoError(t, err)
			assert.False(t, res.Anonymous)
			assert.Equal(t, testAK, res.AccessKey)
			assert.Equal(t, string(c.body), string(data))
			assert.Equal(t, int64(len(c.body)), res.DecodedLength)
		})
	}
}

func TestHeaderAuthTransferEncodingChunked(t *testing.T) {
	// a body of unknown length goes as Transfer-Encoding: chunked, which net/http moves
	// out of the header map on the server side.
	v := newTestVerifier()
	payload := bytes.Repeat([]byte("xyz"), 1000)
	r, err := http.NewRequest(http.MethodPut, "http://s3.local/b/k", io.NopCloser(bytes.NewReader(payload)))
	require.NoError(t, err)
	r.ContentLength = -1
	signHeader(t, r, "UNSIGNED-PAYLOAD", testNow)
	sr := toServer(t, r)
	require.Equal(t, []string{"chunked"}, sr.TransferEncoding)
	res, data, err := verifyRead(t, v, sr)
	require.NoError(t, err)
	assert.Equal(t, payload, data)
	assert.Equal(t, int64(-1), res.DecodedLength)

	// a client that signs transfer-encoding and content-length by hand
	r, err = http.NewRequest(http.MethodPut, "http://s3.local/b/k", io.NopCloser(bytes.NewReader(payload)))
	require.NoError(t, err)
	r.ContentLength = -1
	r.TransferEncoding = []string{"chunked"}
	r.Header.Set("Transfer-Encoding", "chunked")
	r.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	r.Header.Set("X-Amz-Date", testNow.Format(iso8601Basic))
	signManually(t, r, []string{"host", "transfer-encoding", "x-amz-content-sha256", "x-amz-date"}, "UNSIGNED-PAYLOAD", testNow)
	r.Header.Del("Transfer-Encoding")
	_, data, err = verifyRead(t, v, toServer(t, r))
	require.NoError(t, err)
	assert.Equal(t, payload, data)
}

// signManually signs r with this package's own canonicalization (to sign headers the
// SDK signer would not) and sets Authorization.
func signManually(t testing.TB, r *http.Request, signed []string, payloadHash string, when time.Time) string {
	t.Helper()
	scope := when.Format(scopeDate) + "/" + testRegion + "/s3/aws4_request"
	canon := canonicalRequest(r, parseQuery(r.URL.RawQuery), false, signed, payloadHash)
	key := signingKey(testSecret, when.Format(scopeDate), testRegion, "s3")
	sig := hmacHex(key, stringToSign(when.Format(iso8601Basic), scope, canon))
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+testAK+"/"+scope+", SignedHeaders="+strings.Join(signed, ";")+", Signature="+sig)
	return sig
}

func TestHeaderAuthFailures(t *testing.T) {
	body := []byte("payload")
	good := func(t *testing.T) *http.Request {
		r := clientRequest(t, http.MethodPut, "http://s3.local/bucket/key?x=1", body)
		r.Header.Set("X-Amz-Meta-A", "1")
		signHeader(t, r, hexSHA256(body), testNow)
		return toServer(t, r)
	}
	cases := []struct {
		name   string
		mutate func(t *testing.T, r *http.Request, v *Verifier)
		code   string
		status int
	}{
		{"wrong secret", func(t *testing.T, r *http.Request, v *Verifier) {
			v.Creds = testCreds{testAK: "other"}
		}, CodeSignatureDoesNotMatch, 403},
		{"unknown key", func(t *testing.T, r *http.Request, v *Verifier) {
			v.Creds = testCreds{"OTHER": testSecret}
		}, CodeInvalidAccessKeyID, 403},
		{"unsigned x-amz-meta header", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Set("X-Amz-Meta-Injected", "evil")
		}, CodeAccessDenied, 403},
		{"tampered signed header", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Set("X-Amz-Meta-A", "2")
		}, CodeSignatureDoesNotMatch, 403},
		{"tampered path", func(t *testing.T, r *http.Request, v *Verifier) {
			r.URL.Path = "/bucket/other"
			r.URL.RawPath = ""
		}, CodeSignatureDoesNotMatch, 403},
		{"tampered query", func(t *testing.T, r *http.Request, v *Verifier) {
			r.URL.RawQuery = "x=2"
		}, CodeSignatureDoesNotMatch, 403},
		{"added query param", func(t *testing.T, r *http.Request, v *Verifier) {
			r.URL.RawQuery += "&versionId=1"
		}, CodeSignatureDoesNotMatch, 403},
		{"tampered method", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Method = http.MethodPost
		}, CodeSignatureDoesNotMatch, 403},
		{"tampered host", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Host = "evil.local"
		}, CodeSignatureDoesNotMatch, 403},
		{"region mismatch", func(t *testing.T, r *http.Request, v *Verifier) {
			v.Region = "eu-west-3"
		}, CodeAuthorizationHeaderMalformed, 400},
		{"request too old", func(t *testing.T, r *http.Request, v *Verifier) {
			v.Now = func() time.Time { return testNow.Add(16 * time.Minute) }
		}, CodeRequestTimeTooSkewed, 403},
		{"request in the future", func(t *testing.T, r *http.Request, v *Verifier) {
			v.Now = func() time.Time { return testNow.Add(-16 * time.Minute) }
		}, CodeRequestTimeTooSkewed, 403},
		{"missing content sha256", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Del("X-Amz-Content-Sha256")
		}, CodeInvalidRequest, 400},
		{"malformed content sha256", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Set("X-Amz-Content-Sha256", "abc")
		}, CodeInvalidArgument, 400},
		{"missing date", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Del("X-Amz-Date")
		}, CodeAccessDenied, 403},
		{"garbled date", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Set("X-Amz-Date", "2024-05-01T12:00:00Z")
		}, CodeAccessDenied, 403},
		{"date not the scope day", func(t *testing.T, r *http.Request, v *Verifier) {
			r.Header.Set("X-Amz-Date", "20240502T000000Z")
			v.Now = func() time.Time { return time.Date(2024, 5, 2, 0, 0, 0, 0, time.UTC) }
		}, CodeAuthorizationHeaderMalformed, 400},
		{"both auth kinds", func(t *testing.T, r *http.Request, v *Verifier) {
			r.URL.RawQuery += "&X-Amz-Algorithm=AWS4-HMAC-SHA256"
		}, CodeInvalidArgument, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := newTestVerifier()
			r := good(t)
			c.mutate(t, r, v)
			_, _, err := verifyRead(t, v, r)
			requireCode(t, err, c.code, c.status)
		})
	}
	// the unmodified request passes: the table checks what it means to
	t.Run("control", func(t *testing.T) {
		_, data, err := verifyRead(t, newTestVerifier(), good(t))
		require.NoError(t, err)
		assert.Equal(t, body, data)
	})
}

func TestTamperedBodyHexHash(t *testing.T) {
	v := newTestVerifier()
	r := clientRequest(t, http.MethodPut, "http://s3.local/b/k", []byte("original"))
	signHeader(t, r, hexSHA256([]byte("original")), testNow)
	sr := toServer(t, r)
	sr.Body = io.NopCloser(strings.NewReader("tampered"))
	res, err := v.Verify(sr)
	require.NoError(t, err) // the body is checked as it is read
	data, err := io.ReadAll(res.Body)
	requireCode(t, err, CodeXAmzContentSHA256Mismatch, 400)
	assert.Equal(t, "tampered", string(data))
	_, err = res.Body.Read(make([]byte, 10)) // sticky
	requireCode(t, err, CodeXAmzContentSHA256Mismatch, 400)

	// a truncated body is IncompleteBody, not a silent short read
	r = clientRequest(t, http.MethodPut, "http://s3.local/b/k", []byte("original"))
	signHeader(t, r, hexSHA256([]byte("original")), testNow)
	var buf bytes.Buffer
	require.NoError(t, r.Write(&buf))
	wire := buf.Bytes()[:buf.Len()-3]
	sr, err = http.ReadRequest(bufioReader(wire))
	require.NoError(t, err)
	_, _, err = verifyRead(t, v, sr)
	requireCode(t, err, CodeIncompleteBody, 400)
}

func TestDateHeaderInsteadOfXAmzDate(t *testing.T) {
	v := newTestVerifier()
	r := clientRequest(t, http.MethodGet, "http://s3.local/b/k", nil)
	r.Header.Set("Date", testNow.Format(http.TimeFormat))
	r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	signManually(t, r, []string{"date", "host", "x-amz-content-sha256"}, emptySHA256, testNow)
	_, _, err := verifyRead(t, v, toServer(t, r))
	require.NoError(t, err)
}

func TestMalformedAuthorization(t *testing.T) {
	date := testNow.Format(iso8601Basic)
	sig := strings.Repeat("a", 64)
	cred := testAK + "/20240501/us-east-1/s3/aws4_request"
	cases := []struct {
		name, header, code string
		status             int
	}{
		{"empty", "", CodeAuthorizationHeaderMalformed, 400},
		{"sigv2", "AWS " + testAK + ":c2lnbmF0dXJl", CodeInvalidArgument, 400},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, CodeInvalidArgument, 400},
		{"garbage", "Bearer xyz", CodeAuthorizationHeaderMalformed, 400},
		{"no components", "AWS4-HMAC-SHA256", CodeAuthorizationHeaderMalformed, 400},
		{"missing signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host", CodeAuthorizationHeaderMalformed, 400},
		{"missing signed headers", "AWS4-HMAC-SHA256 Credential=" + cred + ", Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"unknown component", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig + ", Foo=bar", CodeAuthorizationHeaderMalformed, 400},
		{"repeated component", "AWS4-HMAC-SHA256 Credential=" + cred + ", Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"component without =", "AWS4-HMAC-SHA256 Credential, SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"short credential", "AWS4-HMAC-SHA256 Credential=" + testAK + "/20240501/us-east-1/s3, SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"long credential", "AWS4-HMAC-SHA256 Credential=x/" + cred + ", SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"bad credential date", "AWS4-HMAC-SHA256 Credential=" + testAK + "/2024051/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"wrong service", "AWS4-HMAC-SHA256 Credential=" + testAK + "/20240501/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"wrong terminal", "AWS4-HMAC-SHA256 Credential=" + testAK + "/20240501/us-east-1/s3/aws5_request, SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"wrong region", "AWS4-HMAC-SHA256 Credential=" + testAK + "/20240501/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"host not signed", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=x-amz-content-sha256;x-amz-date, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"empty signed header", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"upper-case signed header", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=Host;x-amz-date, Signature=" + sig, CodeAuthorizationHeaderMalformed, 400},
		{"x-amz header not signed", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, CodeAccessDenied, 403},
		{"bad signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + sig, CodeSignatureDoesNotMatch, 403},
		{"non-hex signature", "AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=zz", CodeSignatureDoesNotMatch, 403},
		{"no spaces", "AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=" + sig, CodeSignatureDoesNotMatch, 403},
		{"unknown key", "AWS4-HMAC-SHA256 Credential=NOPE/20240501/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + sig, CodeInvalidAccessKeyID, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := clientRequest(t, http.MethodGet, "http://s3.local/b/k", nil)
			r.Header.Set("Authorization", c.header)
			r.Header.Set("X-Amz-Date", date)
			r.Header.Set("X-Amz-Content-Sha256", emptySHA256)
			_, err := newTestVerifier().Verify(toServer(t, r))
			requireCode(t, err, c.code, c.status)
		})
	}
	t.Run("two headers", func(t *testing.T) {
		r := clientRequest(t, http.MethodGet, "http://s3.local/b/k", nil)
		r.Header.Add("Authorization", "AWS4-HMAC-SHA256 Credential="+cred+", SignedHeaders=host, Signature="+sig)
		r.Header.Add("Authorization", "AWS4-HMAC-SHA256 Credential="+cred+", SignedHeaders=host, Signature="+sig)
		_, err := newTestVerifier().Verify(r)
		requireCode(t, err, CodeAuthorizationHeaderMalformed, 400)
	})
}

func TestCanonicalHelpers(t *testing.T) {
	assert.Equal(t, "a-_.~Z9%20%2B%2F%25%E2%82%AC", uriEncode("a-_.~Z9 +/%€"))
	assert.Equal(t, "a b c", trimHeaderValue("  a   b  c  "))
	assert.Equal(t, "A=&a=1&a=2&b=%20", canonicalQuery(parseQuery("b=+&a=2&a=1&A"), false))
	assert.Equal(t, "a=1", canonicalQuery(parseQuery("X-Amz-Signature=x&a=1"), true))
	assert.Equal(t, "%25zz=", canonicalQuery(parseQuery("%zz"), false))
}

package sigv4

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// presign returns a presigned URL for method and rawURL, valid for expires seconds
// from when, with the SDK signer.
func presign(t testing.TB, method, rawURL string, expires string, when time.Time, hdr http.Header) (string, http.Header) {
	t.Helper()
	r := clientRequest(t, method, rawURL, nil)
	q := r.URL.Query()
	q.Set("X-Amz-Expires", expires)
	r.URL.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	for k, vs := range hdr {
		r.Header[k] = vs
	}
	u, signed, err := s3Signer().PresignHTTP(context.Background(), testAWSCreds(), r, unsignedPayload, "s3", testRegion, when)
	require.NoError(t, err)
	return u, signed
}

func presignedRequest(t testing.TB, method, u string, signed http.Header, body []byte) *http.Request {
	r := clientRequest(t, method, u, body)
	for k, vs := range signed {
		if !strings.EqualFold(k, "host") {
			r.Header[k] = vs
		}
	}
	return toServer(t, r)
}

func TestPresigned(t *testing.T) {
	v := newTestVerifier()
	u, signed := presign(t, http.MethodGet, "http://s3.local/bucket/a%20b/%E2%82%AC+x?versionId=1&response-content-type=text%2Fplain", "3600", testNow.Add(-time.Minute), nil)
	res, _, err := verifyRead(t, v, presignedRequest(t, http.MethodGet, u, signed, nil))
	require.NoError(t, err)
	assert.Equal(t, testAK, res.AccessKey)

	// PUT with a signed metadata header, which the client must send
	u, signed = presign(t, http.MethodPut, "http://s3.local/bucket/k", "60", testNow, http.Header{"X-Amz-Meta-A": {"b"}})
	require.Contains(t, signed, "X-Amz-Meta-A")
	res, data, err := verifyRead(t, v, presignedRequest(t, http.MethodPut, u, signed, []byte("put body")))
	require.NoError(t, err)
	assert.Equal(t, "put body", string(data))
	assert.Equal(t, int64(8), res.DecodedLength)

	// ... and must not change
	r := presignedRequest(t, http.MethodPut, u, signed, []byte("put body"))
	r.Header.Set("X-Amz-Meta-A", "c")
	_, err = v.Verify(r)
	requireCode(t, err, CodeSignatureDoesNotMatch, 403)

	// an x-amz header that is neither signed nor in the query is refused
	r = presignedRequest(t, http.MethodPut, u, signed, []byte("put body"))
	r.Header.Set("X-Amz-Meta-Other", "c")
	_, err = v.Verify(r)
	requireCode(t, err, CodeAccessDenied, 403)

	// a header hoisted into the query by the signer is fine as a header too
	u, signed = presign(t, http.MethodGet, "http://s3.local/bucket/k", "60", testNow, http.Header{"X-Amz-Expected-Bucket-Owner": {"123"}})
	require.Contains(t, u, "x-amz-expected-bucket-owner=123")
	r = presignedRequest(t, http.MethodGet, u, signed, nil)
	r.Header.Set("X-Amz-Expected-Bucket-Owner", "123")
	_, err = v.Verify(r)
	require.NoError(t, err)

	// a signed hex payload hash in the query is checked
	r = clientRequest(t, http.MethodPut, "http://s3.local/bucket/k?X-Amz-Expires=60&X-Amz-Content-Sha256="+hexSHA256([]byte("abc")), nil)
	u2, signed2, err := s3Signer().PresignHTTP(context.Background(), testAWSCreds(), r, hexSHA256([]byte("abc")), "s3", testRegion, testNow)
	require.NoError(t, err)
	_, data, err = verifyRead(t, v, presignedRequest(t, http.MethodPut, u2, signed2, []byte("abc")))
	require.NoError(t, err)
	assert.Equal(t, "abc", string(data))
	_, _, err = verifyRead(t, v, presignedRequest(t, http.MethodPut, u2, signed2, []byte("abd")))
	requireCode(t, err, CodeXAmzContentSHA256Mismatch, 400)
}

func TestPresignedFailures(t *testing.T) {
	base, _ := presign(t, http.MethodGet, "http://s3.local/bucket/key", "600", testNow, nil)
	setParam := func(k, val string) func(q url.Values) {
		return func(q url.Values) { q.Set(k, val) }
	}
	cases := []struct {
		name   string
		when   time.Time // Verifier's now
		mutate func(q url.Values)
		code   string
		status int
	}{
		{"control", testNow.Add(5 * time.Minute), nil, "", 0},
		{"expired", testNow.Add(601 * time.Second), nil, CodeAccessDenied, 403},
		{"future date", testNow.Add(-time.Hour), nil, CodeAccessDenied, 403},
		{"wrong signature", testNow, setParam("X-Amz-Signature", strings.Repeat("0", 64)), CodeSignatureDoesNotMatch, 403},
		{"longer expiry", testNow, setParam("X-Amz-Expires", "700"), CodeSignatureDoesNotMatch, 403},
		{"expires zero", testNow, setParam("X-Amz-Expires", "0"), CodeAuthorizationQueryParametersError, 400},
		{"expires too long", testNow, setParam("X-Amz-Expires", "604801"), CodeAuthorizationQueryParametersError, 400},
		{"expires not a number", testNow, setParam("X-Amz-Expires", "1h"), CodeAuthorizationQueryParametersError, 400},
		{"algorithm", testNow, setParam("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), CodeAuthorizationQueryParametersError, 400},
		{"credential", testNow, setParam("X-Amz-Credential", "AK/20240501/us-east-1/s3"), CodeAuthorizationQueryParametersError, 400},
		{"region", testNow, setParam("X-Amz-Credential", testAK+"/20240501/ap-south-1/s3/aws4_request"), CodeAuthorizationQueryParametersError, 400},
		{"unknown key", testNow, setParam("X-Amz-Credential", "NOPE/20240501/us-east-1/s3/aws4_request"), CodeInvalidAccessKeyID, 403},
		{"date format", testNow, setParam("X-Amz-Date", "2024-05-01T12:00:00Z"), CodeAuthorizationQueryParametersError, 400},
		{"date not the scope day", testNow, setParam("X-Amz-Date", "20240430T235959Z"), CodeAuthorizationQueryParametersError, 400},
		{"host not signed", testNow, setParam("X-Amz-SignedHeaders", "x-amz-date"), CodeAuthorizationQueryParametersError, 400},
		{"missing signed headers", testNow, func(q url.Values) { q.Del("X-Amz-SignedHeaders") }, CodeAuthorizationQueryParametersError, 400},
		{"missing signature", testNow, func(q url.Values) { q.Del("X-Amz-Signature") }, CodeAuthorizationQueryParametersError, 400},
		{"added parameter", testNow, setParam("versionId", "x"), CodeSignatureDoesNotMatch, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := url.Parse(base)
			require.NoError(t, err)
			if c.mutate != nil {
				q := u.Query()
				c.mutate(q)
				u.RawQuery = q.Encode()
			}
			v := newTestVerifier()
			v.Now = func() time.Time { return c.when }
			_, _, err = verifyRead(t, v, toServer(t, clientRequest(t, http.MethodGet, u.String(), nil)))
			if c.code == "" {
				require.NoError(t, err)
				return
			}
			requireCode(t, err, c.code, c.status)
		})
	}
}

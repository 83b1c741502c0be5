package sigv4

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/require"
)

const (
	testAK     = "AKIDTESTKEY"
	testSecret = "testsecret/with+chars"
	testRegion = "us-east-1"
)

var testNow = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

// testCreds is a fixed Credentials.
type testCreds map[string]string

func (c testCreds) Secret(k string) (string, bool) {
	s, ok := c[k]
	return s, ok
}

func newTestVerifier() *Verifier {
	return &Verifier{
		Creds:  testCreds{testAK: testSecret, "AKIAIOSFODNN7EXAMPLE": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		Region: testRegion,
		Now:    func() time.Time { return testNow },
	}
}

// s3Signer signs as the S3 client does: the path is not escaped a second time.
func s3Signer() *v4.Signer {
	return v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
}

func testAWSCreds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testAK, SecretAccessKey: testSecret}
}

func hexSHA256(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// clientRequest builds a client request with body (nil: none).
func clientRequest(t testing.TB, method, url string, body []byte) *http.Request {
	t.Helper()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	r, err := http.NewRequest(method, url, rd)
	require.NoError(t, err)
	return r
}

// signHeader signs r with the SDK signer at when, with payloadHash set in
// x-amz-content-sha256.
func signHeader(t testing.TB, r *http.Request, payloadHash string, when time.Time) {
	t.Helper()
	r.Header.Set("X-Amz-Content-Sha256", payloadHash)
	require.NoError(t, s3Signer().SignHTTP(context.Background(), testAWSCreds(), r, payloadHash, "s3", testRegion, when))
}

// toServer sends r through the wire format and parses it back as a server sees it.
func toServer(t testing.TB, r *http.Request) *http.Request {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, r.Write(&buf))
	sr, err := http.ReadRequest(bufio.NewReader(&buf))
	require.NoError(t, err)
	return sr
}

// requireCode asserts err is an *Error with code and status.
func requireCode(t testing.TB, err error, code string, status int) {
	t.Helper()
	require.Error(t, err)
	var se *Error
	require.True(t, errors.As(err, &se), "error %T %v is not *Error", err, err)
	require.Equal(t, code, se.Code, "message: %s", se.Message)
	require.Equal(t, status, se.Status)
}

// verifyRead verifies r and reads its whole body.
func verifyRead(t testing.TB, v *Verifier, r *http.Request) (*Result, []byte, error) {
	t.Helper()
	res, err := v.Verify(r)
	if err != nil {
		return nil, nil, err
	}
	require.NotNil(t, res.Body)
	data, err := io.ReadAll(res.Body)
	require.NoError(t, res.Body.Close())
	return res, data, err
}

func hmacHex(key []byte, s string) string { return hex.EncodeToString(hmacSHA256(key, s)) }

func bufioReader(b []byte) *bufio.Reader { return bufio.NewReader(bytes.NewReader(b)) }

func sha256New() hash.Hash { return sha256.New() }

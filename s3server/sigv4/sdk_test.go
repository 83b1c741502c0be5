package sigv4

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seen is what the test server's handler saw of one request.
type seen struct {
	contentSHA256 string
	checksumHdr   string // the x-amz-checksum-* header sent, if any
	trailerHdr    string // x-amz-trailer
	result        *Result
	body          []byte
	err           error
}

// sdkServer is an httptest server whose handler verifies each request and reads its
// body, recording what it saw.
type sdkServer struct {
	srv  *httptest.Server
	mu   sync.Mutex
	last seen
}

func newSDKServer(t *testing.T, tls bool) *sdkServer {
	s := &sdkServer{}
	v := &Verifier{Creds: testCreds{testAK: testSecret}, Region: testRegion}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var sn seen
		sn.contentSHA256 = r.Header.Get("X-Amz-Content-Sha256")
		sn.trailerHdr = r.Header.Get("X-Amz-Trailer")
		for k := range r.Header {
			if _, ok := checksumAlgByHeader(strings.ToLower(k)); ok {
				sn.checksumHdr = strings.ToLower(k)
			}
		}
		res, err := v.Verify(r)
		if err == nil {
			sn.result = res
			sn.body, err = io.ReadAll(res.Body)
			res.Body.Close()
		}
		sn.err = err
		s.mu.Lock()
		s.last = sn
		s.mu.Unlock()
		if err != nil {
			var se *Error
			status := 500
			code := "InternalError"
			if errors.As(err, &se) {
				status, code = se.Status, se.Code
			}
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			io.WriteString(w, "<Error><Code>"+code+"</Code><Message>x</Message></Error>")
			return
		}
		w.Header().Set("ETag", `"etag"`)
		w.WriteHeader(200)
	})
	if tls {
		s.srv = httptest.NewTLSServer(h)
	} else {
		s.srv = httptest.NewServer(h)
	}
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sdkServer) client(secret string, opts ...func(*s3.Options)) *s3.Client {
	return s3.New(s3.Options{
		BaseEndpoint: aws.String(s.srv.URL),
		UsePathStyle: true,
		Region:       testRegion,
		Credentials:  credentials.NewStaticCredentialsProvider(testAK, secret, ""),
		HTTPClient:   s.srv.Client(),
		Retryer:      aws.NopRetryer{},
	}, opts...)
}

func (s *sdkServer) seen() seen {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// onlyReader hides every method but Read (no Seek, no Len).
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func TestSDKPutObject(t *testing.T) {
	payload := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320000 bytes: several chunks
	ctx := context.Background()
	keys := []string{"plain.txt", "dir/a b+c€ %2F(1)!*'.txt", "ünïcödé/ключ"}
	type variant struct {
		name     string
		tls      bool
		body     func() io.Reader
		alg      types.ChecksumAlgorithm
		opts     []func(*s3.Options)
		wantMode string // x-amz-content-sha256 kind expected
	}
	unsigned := func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware)
	}
	whenRequired := func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired }
	whenSupported := func(o *s3.Options) { o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenSupported }
	seekable := func() io.Reader { return bytes.NewReader(payload) }
	stream := func() io.Reader { return onlyReader{bytes.NewReader(payload)} }
	variants := []variant{
		{name: "http bytes.Reader default checksum", body: seekable, opts: []func(*s3.Options){whenSupported}, wantMode: "hex"},
		{name: "http bytes.Reader no checksum", body: seekable, opts: []func(*s3.Options){whenRequired}, wantMode: "hex"},
		{name: "http stream unsigned payload", body: stream, opts: []func(*s3.Options){unsigned, whenRequired}, wantMode: unsignedPayload},
		{name: "http bytes.Reader unsigned payload", body: seekable, opts: []func(*s3.Options){unsigned}, wantMode: unsignedPayload},
		{name: "http crc32c header", body: seekable, alg: types.ChecksumAlgorithmCrc32c, wantMode: "hex"},
		{name: "http crc64nvme header", body: seekable, alg: types.ChecksumAlgorithmCrc64nvme, wantMode: "hex"},
		{name: "http sha1 header", body: seekable, alg: types.ChecksumAlgorithmSha1, wantMode: "hex"},
		{name: "http sha256 header", body: seekable, alg: types.ChecksumAlgorithmSha256, wantMode: "hex"},
		{name: "https bytes.Reader default checksum", tls: true, body: seekable, opts: []func(*s3.Options){whenSupported}, wantMode: streamingUnsignedPayloadTrlr},
		{name: "https stream default checksum", tls: true, body: stream, opts: []func(*s3.Options){whenSupported}, wantMode: streamingUnsignedPayloadTrlr},
		{name: "https crc32c trailer", tls: true, body: seekable, alg: types.ChecksumAlgorithmCrc32c, wantMode: streamingUnsignedPayloadTrlr},
		{name: "https crc64nvme trailer", tls: true, body: stream, alg: types.ChecksumAlgorithmCrc64nvme, wantMode: streamingUnsignedPayloadTrlr},
		{name: "https sha1 trailer", tls: true, body: seekable, alg: types.ChecksumAlgorithmSha1, wantMode: streamingUnsignedPayloadTrlr},
		{name: "https sha256 trailer", tls: true, body: seekable, alg: types.ChecksumAlgorithmSha256, wantMode: streamingUnsignedPayloadTrlr},
		{name: "https no checksum", tls: true, body: seekable, opts: []func(*s3.Options){whenRequired}, wantMode: unsignedPayload},
	}
	for _, vr := range variants {
		t.Run(vr.name, func(t *testing.T) {
			s := newSDKServer(t, vr.tls)
			c := s.client(testSecret, vr.opts...)
			for _, key := range keys {
				in := &s3.PutObjectInput{
					Bucket:        aws.String("bucket"),
					Key:           aws.String(key),
					Body:          vr.body(),
					ContentLength: aws.Int64(int64(len(payload))),
					Metadata:      map[string]string{"color": "blue"},
				}
				if vr.alg != "" {
					in.ChecksumAlgorithm = vr.alg
				}
				_, err := c.PutObject(ctx, in)
				sn := s.seen()
				require.NoError(t, sn.err, "key %q: server error", key)
				require.NoError(t, err, "key %q", key)
				require.Equal(t, len(payload), len(sn.body))
				require.True(t, bytes.Equal(payload, sn.body), "body differs")
				assert.Equal(t, int64(len(payload)), sn.result.DecodedLength)
				if vr.wantMode == "hex" {
					assert.Len(t, sn.contentSHA256, 64)
				} else {
					assert.Equal(t, vr.wantMode, sn.contentSHA256)
				}
				if vr.alg != "" {
					hdr := "x-amz-checksum-" + strings.ToLower(string(vr.alg))
					if vr.wantMode == streamingUnsignedPayloadTrlr {
						assert.Equal(t, hdr, sn.trailerHdr)
						assert.NotEmpty(t, sn.result.Trailer.Get(hdr))
					} else {
						assert.Equal(t, hdr, sn.checksumHdr)
					}
				}
			}
		})
	}
}

func TestSDKOtherCalls(t *testing.T) {
	ctx := context.Background()
	s := newSDKServer(t, false)
	c := s.client(testSecret)
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("a b/c+d"), VersionId: aws.String("v+1/2"), Range: aws.String("bytes=0-10")})
	require.NoError(t, s.seen().err)
	_ = err // the stub answer carries no body; only the server side matters
	_, _ = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("bucket"), Prefix: aws.String("a b/€"), Delimiter: aws.String("/"), StartAfter: aws.String("")})
	require.NoError(t, s.seen().err)
	_, _ = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("bucket"), Delete: &types.Delete{Objects: []types.ObjectIdentifier{{Key: aws.String("x")}}}})
	require.NoError(t, s.seen().err)
	_, _ = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String("bucket"), Key: aws.String("k"), UploadId: aws.String("u/1"),
		ChecksumCRC32: aws.String("AAAAAA==-2"), MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{{PartNumber: aws.Int32(1), ETag: aws.String(`"e"`)}}}})
	require.NoError(t, s.seen().err)
	_, _ = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k")})
	require.NoError(t, s.seen().err)

	// a wrong secret is refused
	_, err = s.client("wrong").DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k")})
	require.Error(t, err)
	requireCode(t, s.seen().err, CodeSignatureDoesNotMatch, 403)
}

func TestSDKPresigned(t *testing.T) {
	ctx := context.Background()
	s := newSDKServer(t, false)
	pc := s3.NewPresignClient(s.client(testSecret))
	payload := []byte("presigned payload")

	get, err := pc.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("a b/€+x"),
		ResponseContentDisposition: aws.String(`attachment; filename="x y.txt"`)}, s3.WithPresignExpires(time.Hour))
	require.NoError(t, err)
	resp, err := s.srv.Client().Get(get.URL)
	require.NoError(t, err)
	resp.Body.Close()
	require.NoError(t, s.seen().err)
	assert.Equal(t, 200, resp.StatusCode)

	put, err := pc.PresignPutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k"), ContentLength: aws.Int64(int64(len(payload)))})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPut, put.URL, bytes.NewReader(payload))
	require.NoError(t, err)
	for k, vs := range put.SignedHeader {
		if strings.EqualFold(k, "host") {
			continue
		}
		req.Header[k] = vs
	}
	req.ContentLength = int64(len(payload))
	resp, err = s.srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	sn := s.seen()
	require.NoError(t, sn.err)
	assert.Equal(t, payload, sn.body)
	assert.Equal(t, strconv.Itoa(len(payload)), strconv.FormatInt(sn.result.DecodedLength, 10))
}

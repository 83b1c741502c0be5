package sigv4

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestStreamingAWSExample is the known-answer test of the AWS documentation
// ("Signature Calculations for the Authorization Header: Transferring Payload in
// Multiple Chunks"): 66560 bytes of 'a' sent as a 64 KiB and a 1 KiB chunk.
func TestStreamingAWSExample(t *testing.T) {
	const (
		seed = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"
		sig1 = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"
		sig2 = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"
		sig3 = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"
	)
	build := func(sigs [3]string, data []byte) []byte {
		var b bytes.Buffer
		fmt.Fprintf(&b, "10000;chunk-signature=%s\r\n", sigs[0])
		b.Write(data[:65536])
		fmt.Fprintf(&b, "\r\n400;chunk-signature=%s\r\n", sigs[1])
		b.Write(data[65536:])
		fmt.Fprintf(&b, "\r\n0;chunk-signature=%s\r\n\r\n", sigs[2])
		return b.Bytes()
	}
	request := func(body []byte, seedSig string) *http.Request {
		r, err := http.NewRequest(http.MethodPut, "http://s3.amazonaws.com/examplebucket/chunkObject.txt", bytes.NewReader(body))
		require.NoError(t, err)
		r.Header.Set("X-Amz-Date", "20130524T000000Z")
		r.Header.Set("X-Amz-Storage-Class", "REDUCED_REDUNDANCY")
		r.Header.Set("X-Amz-Content-Sha256", streamingPayload)
		r.Header.Set("Content-Encoding", "aws-chunked")
		r.Header.Set("X-Amz-Decoded-Content-Length", "66560")
		r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"+
			"SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,"+
			"Signature="+seedSig)
		return toServer(t, r)
	}
	v := newTestVerifier()
	v.Now = func() time.Time { return time.Date(2013, 5, 24, 0, 5, 0, 0, time.UTC) }
	data := bytes.Repeat([]byte("a"), 66560)
	body := build([3]string{sig1, sig2, sig3}, data)
	require.Len(t, body, 66824) // the Content-Length of the example

	res, got, err := verifyRead(t, v, request(body, seed))
	require.NoError(t, err)
	assert.Equal(t, "AKIAIOSFODNN7EXAMPLE", res.AccessKey)
	assert.Equal(t, int64(66560), res.DecodedLength)
	assert.True(t, bytes.Equal(data, got))

	// every signature of the chain matters
	for i := range 3 {
		sigs := [3]string{sig1, sig2, sig3}
		sigs[i] = sig1[:63] + "0"
		if sigs[i] == [3]string{sig1, sig2, sig3}[i] {
			sigs[i] = sig1[:63] + "1"
		}
		_, _, err := verifyRead(t, v, request(build(sigs, data), seed))
		requireCode(t, err, CodeSignatureDoesNotMatch, 403)
	}
	// a byte changed in either chunk
	for _, off := range []int{10, 65536 + 10} {
		bad := bytes.Clone(data)
		bad[off] = 'b'
		_, _, err := verifyRead(t, v, request(build([3]string{sig1, sig2, sig3}, bad), seed))
		requireCode(t, err, CodeSignatureDoesNotMatch, 403)
	}
	// the seed signature
	_, err = v.Verify(request(body, sig1))
	requireCode(t, err, CodeSignatureDoesNotMatch, 403)
}

// chunkWriter builds aws-chunked bodies for the tests with this package's own chunk
// signing, chained from the seed signature the SDK signer gave the request.
type chunkWriter struct {
	signer   *chunkSigner // nil: unsigned chunks
	prev     string
	trailers bool
	buf      bytes.Buffer
}

func (w *chunkWriter) chunk(data []byte) {
	if w.signer == nil {
		fmt.Fprintf(&w.buf, "%x\r\n", len(data))
	} else {
		h := sha256Sum(data)
		sig := fmt.Sprintf("%x", w.signer.chunkSignature(w.prev, h))
		w.prev = sig
		fmt.Fprintf(&w.buf, "%x;chunk-signature=%s\r\n", len(data), sig)
	}
	if len(data) > 0 {
		w.buf.Write(data)
		w.buf.WriteString("\r\n")
	}
}

// end writes the final chunk and the trailers (name → value) if any.
func (w *chunkWriter) end(trailers map[string]string) []byte {
	w.chunk(nil)
	if !w.trailers {
		w.buf.WriteString("\r\n")
		return w.buf.Bytes()
	}
	names := make([]string, 0, len(trailers))
	for k := range trailers {
		names = append(names, k)
	}
	sort.Strings(names)
	var canon strings.Builder
	for _, k := range names {
		fmt.Fprintf(&w.buf, "%s:%s\r\n", k, trailers[k])
		canon.WriteString(k + ":" + trailers[k] + "\n")
	}
	if w.signer != nil {
		fmt.Fprintf(&w.buf, "x-amz-trailer-signature:%x\r\n", w.signer.trailerSignature(w.prev, canon.String()))
	}
	w.buf.WriteString("\r\n")
	return w.buf.Bytes()
}

func sha256Sum(b []byte) []byte {
	h := sha256New()
	h.Write(b)
	return h.Sum(nil)
}

// checksumOf is the base64 checksum of data with the algorithm of header h.
func checksumOf(t testing.TB, h string, data []byte) string {
	alg, ok := checksumAlgByHeader(h)
	require.True(t, ok, h)
	hh := alg.newHash()
	hh.Write(data)
	return base64.StdEncoding.EncodeToString(hh.Sum(nil))
}

// streamOpts describe a streaming upload for streamRequest.
type streamOpts struct {
	mode       string // x-amz-content-sha256
	data       []byte
	chunkSize  int
	trailer    string            // x-amz-trailer header ("" none)
	trailers   map[string]string // trailers to send (nil: the right checksum of trailer)
	decodedLen string            // x-amz-decoded-content-length override ("-" to omit)
	anonymous  bool
	editBody   func([]byte) []byte
}

// streamRequest signs a streaming upload with the SDK signer (the seed signature) and
// builds its body with chunkWriter.
func streamRequest(t testing.TB, o streamOpts) *http.Request {
	t.Helper()
	r := clientRequest(t, http.MethodPut, "http://s3.local/bucket/streamed%20key", nil)
	r.Header.Set("Content-Encoding", "aws-chunked")
	switch o.decodedLen {
	case "":
		r.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(o.data)))
	case "-":
	default:
		r.Header.Set("X-Amz-Decoded-Content-Length", o.decodedLen)
	}
	if o.trailer != "" {
		r.Header.Set("X-Amz-Trailer", o.trailer)
	}
	w := &chunkWriter{trailers: o.mode != streamingPayload}
	if o.anonymous {
		r.Header.Set("X-Amz-Content-Sha256", o.mode)
	} else {
		signHeader(t, r, o.mode, testNow)
		_, seed, ok := strings.Cut(r.Header.Get("Authorization"), "Signature=")
		require.True(t, ok)
		if o.mode != streamingUnsignedPayloadTrlr {
			w.signer = &chunkSigner{
				key:     signingKey(testSecret, testNow.Format(scopeDate), testRegion, "s3"),
				amzDate: testNow.Format(iso8601Basic),
				scope:   testNow.Format(scopeDate) + "/" + testRegion + "/s3/aws4_request",
			}
			w.prev = seed
		}
	}
	size := o.chunkSize
	if size == 0 {
		size = 8192
	}
	for off := 0; off < len(o.data); off += size {
		w.chunk(o.data[off:min(off+size, len(o.data))])
	}
	trailers := o.trailers
	if trailers == nil && o.trailer != "" {
		trailers = map[string]string{o.trailer: checksumOf(t, o.trailer, o.data)}
	}
	body := w.end(trailers)
	if o.editBody != nil {
		body = o.editBody(bytes.Clone(body))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return toServer(t, r)
}

func testData(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251)
	}
	return b
}

func TestStreamingRoundTrip(t *testing.T) {
	v := newTestVerifier()
	for _, mode := range []string{streamingPayload, streamingPayloadTrailer, streamingUnsignedPayloadTrlr} {
		for _, n := range []int{0, 1, 8191, 8192, 8193, 50000} {
			for _, trailer := range []string{"", "x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256"} {
				if mode == streamingPayload && trailer != "" {
					continue
				}
				name := fmt.Sprintf("%s/%d/%s", mode, n, trailer)
				data := testData(n)
				res, got, err := verifyRead(t, v, streamRequest(t, streamOpts{mode: mode, data: data, trailer: trailer}))
				require.NoError(t, err, name)
				require.True(t, bytes.Equal(data, got), name)
				assert.Equal(t, int64(n), res.DecodedLength, name)
				if trailer != "" {
					assert.Equal(t, checksumOf(t, trailer, data), res.Trailer.Get(trailer), name)
				}
				assert.Empty(t, res.Trailer.Get("x-amz-trailer-signature"), name)
			}
		}
	}
}

func TestStreamingFailures(t *testing.T) {
	data := testData(20000)
	flip := func(off int) func([]byte) []byte {
		return func(b []byte) []byte { b[off] ^= 1; return b }
	}
	replace := func(old, new string) func([]byte) []byte {
		return func(b []byte) []byte {
			require.Contains(t, string(b), old)
			return bytes.Replace(b, []byte(old), []byte(new), 1)
		}
	}
	crcWrong := map[string]string{"x-amz-checksum-crc32": checksumOf(t, "x-amz-checksum-crc32", []byte("other"))}
	cases := []struct {
		name   string
		o      streamOpts
		code   string
		status int
	}{
		{"tampered chunk data", streamOpts{mode: streamingPayload, editBody: flip(200)}, CodeSignatureDoesNotMatch, 403},
		{"tampered last chunk", streamOpts{mode: streamingPayload, editBody: func(b []byte) []byte { b[len(b)-120] ^= 1; return b }}, CodeSignatureDoesNotMatch, 403},
		{"wrong chunk signature", streamOpts{mode: streamingPayload, editBody: func(b []byte) []byte {
			i := bytes.Index(b, []byte("chunk-signature=")) + len("chunk-signature=")
			b[i] = "01"[b[i]&1]
			return b
		}}, CodeSignatureDoesNotMatch, 403},
		{"missing chunk signature", streamOpts{mode: streamingPayload, editBody: func(b []byte) []byte {
			i := bytes.Index(b, []byte(";"))
			j := bytes.Index(b, []byte("\r\n"))
			return append(b[:i:i], b[j:]...)
		}}, CodeInvalidRequest, 400},
		{"decoded length too small", streamOpts{mode: streamingPayload, decodedLen: "19999"}, CodeIncompleteBody, 400},
		{"decoded length too large", streamOpts{mode: streamingPayload, decodedLen: "20001"}, CodeIncompleteBody, 400},
		{"decoded length missing", streamOpts{mode: streamingPayload, decodedLen: "-"}, CodeMissingContentLength, 411},
		{"decoded length garbled", streamOpts{mode: streamingPayload, decodedLen: "12x"}, CodeInvalidArgument, 400},
		{"bad chunk size", streamOpts{mode: streamingPayload, editBody: func(b []byte) []byte { b[0] = 'g'; return b }}, CodeInvalidRequest, 400},
		{"huge chunk size", streamOpts{mode: streamingUnsignedPayloadTrlr, decodedLen: "99999999999", editBody: replace("2000\r\n", "ffffffffff\r\n")}, CodeInvalidRequest, 400},
		{"chunk size overflow", streamOpts{mode: streamingUnsignedPayloadTrlr, editBody: replace("2000\r\n", "fffffffffffffffff\r\n")}, CodeInvalidRequest, 400},
		{"no CRLF after data", streamOpts{mode: streamingUnsignedPayloadTrlr, editBody: replace("\r\n2000\r\n", "xx2000\r\n")}, CodeInvalidRequest, 400},
		{"bare LF chunk line", streamOpts{mode: streamingUnsignedPayloadTrlr, editBody: replace("2000\r\n", "2000\n")}, CodeInvalidRequest, 400},
		{"long chunk line", streamOpts{mode: streamingUnsignedPayloadTrlr, editBody: replace("2000\r\n", "2000;"+strings.Repeat("x", 5000)+"\r\n")}, CodeInvalidRequest, 400},
		{"data after final chunk", streamOpts{mode: streamingPayload, editBody: func(b []byte) []byte { return append(b[:len(b)-2], "junk\r\n\r\n"...) }}, CodeInvalidRequest, 400},
		{"wrong trailer crc32", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-crc32", trailers: crcWrong}, CodeBadDigest, 400},
		{"wrong trailer crc32c", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-crc32c", trailers: map[string]string{"x-amz-checksum-crc32c": "AAAAAA=="}}, CodeBadDigest, 400},
		{"wrong trailer sha256", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-sha256", trailers: map[string]string{"x-amz-checksum-sha256": checksumOf(t, "x-amz-checksum-sha256", nil)}}, CodeBadDigest, 400},
		{"wrong unsigned trailer crc32", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-crc32", trailers: crcWrong}, CodeBadDigest, 400},
		{"wrong unsigned trailer crc32c", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-crc32c", trailers: map[string]string{"x-amz-checksum-crc32c": "AAAAAA=="}}, CodeBadDigest, 400},
		{"wrong unsigned trailer sha256", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-sha256", trailers: map[string]string{"x-amz-checksum-sha256": checksumOf(t, "x-amz-checksum-sha256", nil)}}, CodeBadDigest, 400},
		{"tampered data, unsigned trailer", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-crc32c", editBody: flip(100)}, CodeBadDigest, 400},
		{"malformed trailer checksum", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-crc32", trailers: map[string]string{"x-amz-checksum-crc32": "not base64"}}, CodeInvalidRequest, 400},
		{"trailer announced, not sent", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-crc32", trailers: map[string]string{}}, CodeInvalidRequest, 400},
		{"unsupported trailer", streamOpts{mode: streamingUnsignedPayloadTrlr, trailer: "x-amz-checksum-md5", trailers: map[string]string{}}, CodeInvalidRequest, 400},
		{"spaces around a trailer value", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-crc32", editBody: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-checksum-crc32:"), []byte("x-amz-checksum-crc32: "), 1)
		}}, "", 0}, // trimmed, as header values are
		{"wrong trailer signature", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-crc32", editBody: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:")) + len("x-amz-trailer-signature:")
			b[i] = "01"[b[i]&1]
			return b
		}}, CodeSignatureDoesNotMatch, 403},
		{"missing trailer signature", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-crc32", editBody: func(b []byte) []byte {
			i := bytes.Index(b, []byte("x-amz-trailer-signature:"))
			return append(b[:i:i], "\r\n"...)
		}}, CodeSignatureDoesNotMatch, 403},
		{"extra trailer not signed", streamOpts{mode: streamingPayloadTrailer, trailer: "x-amz-checksum-crc32", editBody: func(b []byte) []byte {
			return bytes.Replace(b, []byte("x-amz-trailer-signature:"), []byte("x-amz-meta-x:y\r\nx-amz-trailer-signature:"), 1)
		}}, CodeSignatureDoesNotMatch, 403},
		{"anonymous signed streaming", streamOpts{mode: streamingPayload, anonymous: true}, CodeAccessDenied, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := c.o
			o.data = data
			_, _, err := verifyRead(t, newTestVerifier(), streamRequest(t, o))
			if c.code == "" {
				require.NoError(t, err)
				return
			}
			requireCode(t, err, c.code, c.status)
		})
	}
}

// TestStreamingTruncated cuts bodies at every offset: each cut fails with
// IncompleteBody, never a panic, a silent success or a bare io error.
func TestStreamingTruncated(t *testing.T) {
	data := testData(300)
	for _, mode := range []string{streamingPayload, streamingPayloadTrailer, streamingUnsignedPayloadTrlr} {
		trailer := ""
		if mode != streamingPayload {
			trailer = "x-amz-checksum-crc32c"
		}
		full := streamRequest(t, streamOpts{mode: mode, data: data, chunkSize: 100, trailer: trailer})
		body, err := io.ReadAll(full.Body)
		require.NoError(t, err)
		for cut := 0; cut < len(body); cut++ {
			r := streamRequest(t, streamOpts{mode: mode, data: data, chunkSize: 100, trailer: trailer,
				editBody: func(b []byte) []byte { return b[:cut] }})
			_, _, err := verifyRead(t, newTestVerifier(), r)
			requireCode(t, err, CodeIncompleteBody, 400)
		}
	}
}

func TestAnonymousUnsignedTrailer(t *testing.T) {
	data := testData(10000)
	res, got, err := verifyRead(t, newTestVerifier(), streamRequest(t, streamOpts{
		mode: streamingUnsignedPayloadTrlr, data: data, trailer: "x-amz-checksum-crc64nvme", anonymous: true}))
	require.NoError(t, err)
	assert.True(t, res.Anonymous)
	assert.Equal(t, data, got)
	assert.Equal(t, checksumOf(t, "x-amz-checksum-crc64nvme", data), res.Trailer.Get("X-Amz-Checksum-Crc64nvme"))
}

func TestChecksumHeader(t *testing.T) {
	data := []byte("The quick brown fox jumps over the lazy dog")
	for _, h := range []string{"x-amz-checksum-crc32", "x-amz-checksum-crc32c", "x-amz-checksum-crc64nvme", "x-amz-checksum-sha1", "x-amz-checksum-sha256"} {
		for _, mode := range []string{"hex", unsignedPayload} {
			t.Run(h+"/"+mode, func(t *testing.T) {
				send := func(value string, body []byte) error {
					r := clientRequest(t, http.MethodPut, "http://s3.local/b/k", body)
					r.Header.Set(h, value)
					ph := mode
					if mode == "hex" {
						ph = hexSHA256(body)
					}
					signHeader(t, r, ph, testNow)
					_, got, err := verifyRead(t, newTestVerifier(), toServer(t, r))
					if err == nil {
						require.Equal(t, body, got)
					}
					return err
				}
				require.NoError(t, send(checksumOf(t, h, data), data))
				requireCode(t, send(checksumOf(t, h, []byte("x")), data), CodeBadDigest, 400)
				requireCode(t, send("!!", data), CodeInvalidRequest, 400)
			})
		}
	}
	// known answers: CRC64NVME of "123456789" is 0xae8b14860a799888
	assert.Equal(t, "rosUhgp5mIg=", checksumOf(t, "x-amz-checksum-crc64nvme", []byte("123456789")))
	assert.Equal(t, "y/Q5Jg==", checksumOf(t, "x-amz-checksum-crc32", []byte("123456789")))  // 0xcbf43926
	assert.Equal(t, "4waSgw==", checksumOf(t, "x-amz-checksum-crc32c", []byte("123456789"))) // 0xe3069283

	// two checksum headers
	r := clientRequest(t, http.MethodPut, "http://s3.local/b/k", data)
	r.Header.Set("x-amz-checksum-crc32", checksumOf(t, "x-amz-checksum-crc32", data))
	r.Header.Set("x-amz-checksum-sha1", checksumOf(t, "x-amz-checksum-sha1", data))
	signHeader(t, r, unsignedPayload, testNow)
	_, err := newTestVerifier().Verify(toServer(t, r))
	requireCode(t, err, CodeInvalidRequest, 400)

	// CompleteMultipartUpload's header is the object's checksum, not the body's
	r = clientRequest(t, http.MethodPost, "http://s3.local/b/k?uploadId=u1", data)
	r.Header.Set("x-amz-checksum-crc32", "AAAAAA==-3")
	signHeader(t, r, hexSHA256(data), testNow)
	_, _, err = verifyRead(t, newTestVerifier(), toServer(t, r))
	require.NoError(t, err)
}

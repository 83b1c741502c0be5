package sigv4

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// requireSigv4Error fails unless err is nil, io.EOF-free and an *Error.
func requireSigv4Error(t *testing.T, err error) {
	t.Helper()
	var se *Error
	if !errors.As(err, &se) {
		t.Fatalf("error %T %v is not *Error", err, err)
	}
	if se.Code == "" || se.Status < 400 || se.Status > 499 || se.Message == "" {
		t.Fatalf("incomplete *Error %+v", se)
	}
}

// drain reads at most limit bytes of b, in small reads, and returns how many.
func drain(b io.Reader, limit int64) (int64, error) {
	buf := make([]byte, 777)
	var n int64
	for n <= limit {
		k, err := b.Read(buf)
		n += int64(k)
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
	return n, errors.New("read past the limit")
}

func FuzzVerify(f *testing.F) {
	// seeds: real signed requests, so that mutations start past the signature
	seed := func(method, target string, hdr http.Header, body []byte, ph string) {
		r := clientRequest(f, method, target, body)
		for k, vs := range hdr {
			r.Header[k] = vs
		}
		signHeader(f, r, ph, testNow)
		f.Add(method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"),
			r.Header.Get("X-Amz-Content-Sha256"), "X-Amz-Meta-A", r.Header.Get("X-Amz-Meta-A"), body)
	}
	seed(http.MethodGet, "http://s3.local/b/k%20x?versionId=1&acl", nil, nil, emptySHA256)
	seed(http.MethodPut, "http://s3.local/b/%E2%82%AC", http.Header{"X-Amz-Meta-A": {"v"}}, []byte("data"), hexSHA256([]byte("data")))
	seed(http.MethodPut, "http://s3.local/b/k", http.Header{"X-Amz-Meta-A": {"v"}}, []byte("data"), unsignedPayload)
	seed(http.MethodPut, "http://s3.local/b/k", http.Header{"X-Amz-Meta-A": {"v"}, "X-Amz-Checksum-Crc32": {"ffQ5Jg=="}}, []byte("data"), unsignedPayload)
	u, _ := presign(f, http.MethodGet, "http://s3.local/b/k", "600", testNow, nil)
	pu, _ := url.Parse(u)
	f.Add("GET", pu.RequestURI(), "", "", "", "", "", []byte(nil))
	f.Add("PUT", "/b/k", "AWS4-HMAC-SHA256 Credential=AKIDTESTKEY/20240501/us-east-1/s3/aws4_request, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=00",
		"20240501T120000Z", streamingUnsignedPayloadTrlr, "X-Amz-Decoded-Content-Length", "4", []byte("4\r\ndata\r\n0\r\n\r\n"))
	f.Add("GET", "/?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=99999999999999999999", "", "", "", "", "", []byte(nil))

	v := newTestVerifier()
	f.Fuzz(func(t *testing.T, method, target, authz, amzDate, contentSHA, hname, hvalue string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil || method == "" {
			return
		}
		r := &http.Request{
			Method:        method,
			URL:           u,
			Host:          "s3.local",
			Header:        http.Header{},
			Body:          io.NopCloser(bytes.NewReader(body)),
			ContentLength: int64(len(body)),
		}
		if authz != "" {
			r.Header.Set("Authorization", authz)
		}
		if amzDate != "" {
			r.Header.Set("X-Amz-Date", amzDate)
		}
		if contentSHA != "" {
			r.Header.Set("X-Amz-Content-Sha256", contentSHA)
		}
		if hname != "" {
			r.Header[hname] = append(r.Header[hname], hvalue)
		}
		res, err := v.Verify(r)
		if err != nil {
			requireSigv4Error(t, err)
			return
		}
		if res.Body == nil {
			t.Fatal("nil Body")
		}
		n, err := drain(res.Body, int64(len(body)))
		if err != nil {
			requireSigv4Error(t, err)
		} else if res.DecodedLength >= 0 && n != res.DecodedLength {
			t.Fatalf("read %d bytes, DecodedLength %d", n, res.DecodedLength)
		}
		require.NoError(t, res.Body.Close())
	})
}

// fuzzSigner is the chunk signer FuzzChunkedBody decodes with.
func fuzzSigner() *chunkSigner {
	return &chunkSigner{
		key:     signingKey(testSecret, "20240501", testRegion, "s3"),
		amzDate: "20240501T120000Z",
		scope:   "20240501/" + testRegion + "/s3/aws4_request",
		seed:    strings.Repeat("ab", 32),
	}
}

var fuzzModes = []string{streamingPayload, streamingPayloadTrailer, streamingUnsignedPayloadTrlr}

func FuzzChunkedBody(f *testing.F) {
	// seeds: valid bodies of each mode (signed with fuzzSigner), and a few broken ones
	for mi, mode := range fuzzModes {
		for _, n := range []int{0, 5, 300} {
			data := testData(n)
			trailer := ""
			w := &chunkWriter{trailers: mode != streamingPayload}
			if mode != streamingUnsignedPayloadTrlr {
				w.signer = fuzzSigner()
				w.prev = w.signer.seed
			}
			for off := 0; off < n; off += 128 {
				w.chunk(data[off:min(off+128, n)])
			}
			var trailers map[string]string
			if mode != streamingPayload {
				trailer = "x-amz-checksum-crc32c"
				trailers = map[string]string{trailer: checksumOf(f, trailer, data)}
			}
			f.Add(uint8(mi), trailer, strconv.Itoa(n), w.end(trailers))
		}
	}
	f.Add(uint8(2), "", "10", []byte("ffffff\r\n"))
	f.Add(uint8(2), "x-amz-checksum-sha256", "1", []byte("1\r\nx\r\n0\r\nx-amz-checksum-sha256:\r\n\r\n"))
	f.Add(uint8(0), "", "0", []byte("0;chunk-signature=\r\n\r\n"))

	f.Fuzz(func(t *testing.T, modeIdx uint8, trailer, decodedLen string, body []byte) {
		mode := fuzzModes[int(modeIdx)%len(fuzzModes)]
		r, err := http.NewRequest(http.MethodPut, "http://s3.local/b/k", bytes.NewReader(body))
		require.NoError(t, err)
		r.Header.Set("X-Amz-Decoded-Content-Length", decodedLen)
		if trailer != "" {
			r.Header.Set("X-Amz-Trailer", trailer)
		}
		pm, err := parsePayloadMode(mode)
		require.NoError(t, err)
		res := &Result{Trailer: http.Header{}}
		if err := newBody(r, pm, mode, fuzzSigner(), res); err != nil {
			requireSigv4Error(t, err)
			return
		}
		n, err := drain(res.Body, int64(len(body)))
		if err != nil {
			requireSigv4Error(t, err)
			return
		}
		if n != res.DecodedLength {
			t.Fatalf("decoded %d bytes, declared %d", n, res.DecodedLength)
		}
		if n > int64(len(body)) {
			t.Fatalf("decoded %d bytes out of %d", n, len(body))
		}
	})
}

// TestChunkedBoundedMemory checks that a chunk announcing a large size, a long
// chunk-size line or a large trailer allocate nothing in proportion.
func TestChunkedBoundedMemory(t *testing.T) {
	bodies := map[string]string{
		"big chunk":     strings.Repeat("", 0) + "fffff0\r\n" + strings.Repeat("z", 1000),
		"long line":     strings.Repeat("1", 1<<20),
		"long trailers": "0\r\n" + strings.Repeat("x-amz-meta-a:"+strings.Repeat("b", 1000)+"\r\n", 1000),
	}
	for name, b := range bodies {
		r, err := http.NewRequest(http.MethodPut, "http://s3.local/b/k", strings.NewReader(b))
		require.NoError(t, err)
		r.Header.Set("X-Amz-Decoded-Content-Length", "99999999")
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		res := &Result{Trailer: http.Header{}}
		require.NoError(t, newBody(r, modeStreamingUnsignedTrailer, streamingUnsignedPayloadTrlr, nil, res))
		_, err = drain(res.Body, int64(len(b)))
		runtime.ReadMemStats(&after)
		requireSigv4Error(t, err)
		require.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(256<<10), name)
	}
}

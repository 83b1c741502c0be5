package sigv4

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
)

func errIncompleteBody() *Error {
	return newErr(CodeIncompleteBody, http.StatusBadRequest,
		"You did not provide the number of bytes specified by the Content-Length HTTP header.")
}

// body is Result.Body: the checked payload reader, closing the request body.
type body struct {
	io.Reader
	closer io.Closer
}

func (b *body) Close() error { return b.closer.Close() }

// checkReader feeds what it reads to h (if any) and calls final with the digest at
// EOF; a non-nil result replaces io.EOF. Errors are sticky; a truncated body
// (io.ErrUnexpectedEOF) becomes IncompleteBody.
type checkReader struct {
	r     io.Reader
	h     hash.Hash
	final func(sum []byte) error
	err   error
}

func (c *checkReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	if n > 0 && c.h != nil {
		c.h.Write(p[:n])
	}
	switch {
	case err == io.EOF:
		if c.final != nil {
			var sum []byte
			if c.h != nil {
				sum = c.h.Sum(nil)
			}
			if ferr := c.final(sum); ferr != nil {
				err = ferr
			}
		}
		c.err = err
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.err = errIncompleteBody()
		err = c.err
	case err != nil:
		c.err = err
	}
	return n, err
}

// newBody sets res.Body and res.DecodedLength for the payload mode of r. sc signs
// the chunks of a signed streaming payload (nil for an anonymous request).
func newBody(r *http.Request, mode payloadMode, payloadHash string, sc *chunkSigner, res *Result) error {
	src := r.Body
	if src == nil {
		src = http.NoBody
	}
	query := parseQuery(r.URL.RawQuery)
	sum, err := headerChecksum(r, query)
	if err != nil {
		return err
	}
	var rd io.Reader = src
	res.DecodedLength = r.ContentLength
	switch mode {
	case modeHex:
		want, _ := hex.DecodeString(payloadHash)
		rd = &checkReader{r: rd, h: sha256.New(), final: func(got []byte) error {
			if string(got) != string(want) {
				return newErr(CodeXAmzContentSHA256Mismatch, http.StatusBadRequest,
					"The provided 'x-amz-content-sha256' header does not match what was computed.")
			}
			return nil
		}}
	case modeUnsigned:
		rd = &checkReader{r: rd}
	default:
		dl, ok := headerValue(r, "X-Amz-Decoded-Content-Length")
		if !ok {
			return newErr(CodeMissingContentLength, http.StatusLengthRequired,
				"You must provide the Content-Length HTTP header.")
		}
		n, err := strconv.ParseInt(dl, 10, 64)
		if err != nil || n < 0 || strings.HasPrefix(dl, "+") {
			return newErr(CodeInvalidArgument, http.StatusBadRequest,
				"x-amz-decoded-content-length is not a valid length.")
		}
		res.DecodedLength = n
		cr := &chunkedReader{src: src, want: n, trailers: res.Trailer}
		if mode == modeStreaming || mode == modeStreamingTrailer {
			cr.signer = sc
			cr.prevSig = sc.seed
			cr.chunkHash = sha256.New()
		}
		if mode == modeStreamingTrailer || mode == modeStreamingUnsignedTrailer {
			cr.hasTrailer = true
			alg, err := trailerChecksum(r)
			if err != nil {
				return err
			}
			if alg != nil {
				if sum != nil {
					return errMultipleChecksums()
				}
				cr.sumAlg = alg
				cr.sum = alg.newHash()
			}
		}
		cr.init()
		rd = cr
	}
	if sum != nil {
		rd = &checkReader{r: rd, h: sum.alg.newHash(), final: func(got []byte) error {
			if string(got) != string(sum.want) {
				return sum.alg.mismatch()
			}
			return nil
		}}
	}
	res.Body = &body{Reader: rd, closer: src}
	return nil
}

package sigv4

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Bounds of the aws-chunked decoder: nothing it allocates grows with the body.
const (
	// MaxChunkSize is the largest aws-chunked chunk accepted (chunk data is streamed,
	// never buffered whole).
	MaxChunkSize = 16 << 20
	// maxLineLen bounds a chunk-size line or a trailer line.
	maxLineLen = 4096
	// MaxTrailerSize bounds the trailing headers of an aws-chunked body.
	MaxTrailerSize = 16 << 10
)

// chunkSigner holds what chunk and trailer signatures are computed with.
type chunkSigner struct {
	key     []byte
	amzDate string
	scope   string
	seed    string // the request signature, starting the chain
}

func (s *chunkSigner) chunkSignature(prev string, chunkSHA256 []byte) []byte {
	sts := "AWS4-HMAC-SHA256-PAYLOAD\n" + s.amzDate + "\n" + s.scope + "\n" + prev + "\n" +
		emptySHA256 + "\n" + hex.EncodeToString(chunkSHA256)
	return hmacSHA256(s.key, sts)
}

func (s *chunkSigner) trailerSignature(prev, canonicalTrailers string) []byte {
	h := sha256.Sum256([]byte(canonicalTrailers))
	sts := "AWS4-HMAC-SHA256-TRAILER\n" + s.amzDate + "\n" + s.scope + "\n" + prev + "\n" +
		hex.EncodeToString(h[:])
	return hmacSHA256(s.key, sts)
}

func errChunkFraming(what string) *Error {
	return newErr(CodeInvalidRequest, http.StatusBadRequest, "Malformed aws-chunked body: %s.", what)
}

// chunkedReader decodes an aws-chunked body:
//
//	hex-size[;chunk-signature=sig]\r\n data \r\n ... 0[;chunk-signature=sig]\r\n
//	[trailer-name:value\r\n ...] [x-amz-trailer-signature:sig\r\n] \r\n
//
// Chunk data is returned as it arrives; a chunk's signature is checked when its data
// ends, so a bad chunk fails the read that follows it, always before EOF. Consumers
// must not commit data before EOF.
type chunkedReader struct {
	src        io.Reader
	br         *bufio.Reader
	signer     *chunkSigner // nil: chunks are not signed
	hasTrailer bool         // trailing headers follow the last chunk
	want       int64        // x-amz-decoded-content-length
	trailers   http.Header  // Result.Trailer, filled at EOF
	sumAlg     *checksumAlg // trailing checksum announced by x-amz-trailer
	sum        hash.Hash

	prevSig   string
	chunkSig  string
	chunkHash hash.Hash
	remaining int64 // data bytes left in the current chunk
	decoded   int64
	inData    bool
	err       error // sticky; io.EOF once done
}

func (c *chunkedReader) init() {
	c.br = bufio.NewReaderSize(c.src, maxLineLen)
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	for {
		if c.err != nil {
			return 0, c.err
		}
		if !c.inData {
			if err := c.readChunkHeader(); err != nil {
				c.err = err
			}
			continue
		}
		if c.remaining == 0 {
			if err := c.endChunk(); err != nil {
				c.err = err
			}
			continue
		}
		if len(p) == 0 {
			return 0, nil
		}
		lim := p
		if int64(len(lim)) > c.remaining {
			lim = lim[:c.remaining]
		}
		n, err := c.br.Read(lim)
		if n > 0 {
			c.remaining -= int64(n)
			c.decoded += int64(n)
			if c.chunkHash != nil {
				c.chunkHash.Write(p[:n])
			}
			if c.sum != nil {
				c.sum.Write(p[:n])
			}
			return n, nil
		}
		if err != nil {
			c.err = truncated(err)
		}
	}
}

// truncated maps a read error inside the framing to IncompleteBody.
func truncated(err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return errIncompleteBody()
	}
	return err
}

// readLine reads one line ended by CRLF (or a bare LF when lenient) and returns it
// without its end. A line longer than maxLineLen is refused.
func (c *chunkedReader) readLine(lenient bool) (string, error) {
	line, err := c.br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errChunkFraming("line too long")
	}
	if err != nil {
		return "", truncated(err)
	}
	line = line[:len(line)-1]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	} else if !lenient {
		return "", errChunkFraming("line not ended by CRLF")
	}
	return string(line), nil
}

func (c *chunkedReader) readChunkHeader() error {
	line, err := c.readLine(false)
	if err != nil {
		return err
	}
	sizeStr, ext, hasExt := strings.Cut(line, ";")
	if len(sizeStr) == 0 || len(sizeStr) > 16 {
		return errChunkFraming("bad chunk size")
	}
	size, err := strconv.ParseUint(sizeStr, 16, 64)
	if err != nil {
		return errChunkFraming("bad chunk size")
	}
	if size > MaxChunkSize {
		return errChunkFraming("chunk too large")
	}
	if int64(size) > c.want-c.decoded {
		return errIncompleteBody()
	}
	if c.signer != nil {
		sig, ok := strings.CutPrefix(ext, "chunk-signature=")
		if !hasExt || !ok || len(sig) != 64 {
			return errChunkFraming("missing or malformed chunk-signature")
		}
		if _, err := hex.DecodeString(sig); err != nil {
			return errChunkFraming("malformed chunk-signature")
		}
		c.chunkSig = sig
	}
	if size == 0 {
		return c.finish()
	}
	c.remaining = int64(size)
	c.inData = true
	return nil
}

// checkChunkSignature checks the signature of the chunk just read and moves the chain.
func (c *chunkedReader) checkChunkSignature() error {
	if c.signer == nil {
		return nil
	}
	want := c.signer.chunkSignature(c.prevSig, c.chunkHash.Sum(nil))
	got, _ := hex.DecodeString(c.chunkSig)
	if !hmac.Equal(want, got) {
		return errSignature()
	}
	c.prevSig = strings.ToLower(c.chunkSig)
	c.chunkHash.Reset()
	return nil
}

func (c *chunkedReader) endChunk() error {
	var crlf [2]byte
	if _, err := io.ReadFull(c.br, crlf[:]); err != nil {
		return truncated(err)
	}
	if crlf != [2]byte{'\r', '\n'} {
		return errChunkFraming("chunk data not followed by CRLF")
	}
	c.inData = false
	return c.checkChunkSignature()
}

// finish handles the final zero-size chunk: its signature, the trailing headers, the
// decoded length and the trailing checksum. It ends with io.EOF when all is well.
func (c *chunkedReader) finish() error {
	if err := c.checkChunkSignature(); err != nil {
		return err
	}
	var lines []string
	total := 0
	for {
		line, err := c.readLine(c.hasTrailer)
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		if !c.hasTrailer {
			return errChunkFraming("data after the final chunk")
		}
		total += len(line) + 2
		if total > MaxTrailerSize {
			return errChunkFraming("trailing headers too large")
		}
		lines = append(lines, line)
	}
	if c.decoded != c.want {
		return errIncompleteBody()
	}
	trailers := map[string]string{}
	var trailerSig string
	var haveSig bool
	for _, l := range lines {
		k, v, ok := strings.Cut(l, ":")
		k = strings.ToLower(strings.TrimSpace(k))
		if !ok || k == "" {
			return errChunkFraming("malformed trailing header")
		}
		v = strings.TrimSpace(v)
		if k == "x-amz-trailer-signature" {
			if haveSig {
				return errChunkFraming("repeated x-amz-trailer-signature")
			}
			trailerSig, haveSig = v, true
			continue
		}
		if _, dup := trailers[k]; dup {
			return errChunkFraming("repeated trailing header")
		}
		trailers[k] = v
	}
	if c.signer != nil && c.hasTrailer {
		if !haveSig {
			return errSignature()
		}
		names := make([]string, 0, len(trailers))
		for k := range trailers {
			names = append(names, k)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, k := range names {
			b.WriteString(k + ":" + trailers[k] + "\n")
		}
		got, err := hex.DecodeString(trailerSig)
		if err != nil || !hmac.Equal(c.signer.trailerSignature(c.prevSig, b.String()), got) {
			return errSignature()
		}
	}
	if c.sumAlg != nil {
		v, ok := trailers[c.sumAlg.header]
		if !ok {
			return newErr(CodeInvalidRequest, http.StatusBadRequest,
				"The x-amz-trailer header announced %s, which the body did not carry.", c.sumAlg.header)
		}
		want, ok := c.sumAlg.decode(v)
		if !ok {
			return c.sumAlg.invalid()
		}
		if string(c.sum.Sum(nil)) != string(want) {
			return c.sumAlg.mismatch()
		}
	}
	for k, v := range trailers {
		c.trailers.Set(k, v)
	}
	return io.EOF
}

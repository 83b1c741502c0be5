package sigv4

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"hash/crc32"
	"hash/crc64"
	"net/http"
	"strings"
)

// crc64NVME is the reflected NVMe CRC-64 polynomial, as hash/crc64.MakeTable wants it
// (the value the AWS SDKs use for CRC64NVME).
const crc64NVME = 0x9a6c9329ac4bc9b5

// checksumAlg is a flexible-checksum algorithm of S3.
type checksumAlg struct {
	name    string // as S3 names it in messages: CRC32, CRC32C, CRC64NVME, SHA1, SHA256
	header  string // lower-case header name: x-amz-checksum-crc32...
	size    int    // digest size in bytes
	newHash func() hash.Hash
}

// checksumAlgByHeader returns the algorithm a lower-case x-amz-checksum-* header names.
func checksumAlgByHeader(h string) (checksumAlg, bool) {
	switch h {
	case "x-amz-checksum-crc32":
		return checksumAlg{"CRC32", h, crc32.Size, func() hash.Hash { return crc32.NewIEEE() }}, true
	case "x-amz-checksum-crc32c":
		return checksumAlg{"CRC32C", h, crc32.Size, func() hash.Hash { return crc32.New(crc32.MakeTable(crc32.Castagnoli)) }}, true
	case "x-amz-checksum-crc64nvme":
		return checksumAlg{"CRC64NVME", h, crc64.Size, func() hash.Hash { return crc64.New(crc64.MakeTable(crc64NVME)) }}, true
	case "x-amz-checksum-sha1":
		return checksumAlg{"SHA1", h, sha1.Size, sha1.New}, true
	case "x-amz-checksum-sha256":
		return checksumAlg{"SHA256", h, sha256.Size, sha256.New}, true
	}
	return checksumAlg{}, false
}

// decode returns the digest a base64 checksum value carries, if well formed.
func (a checksumAlg) decode(v string) ([]byte, bool) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(v))
	if err != nil || len(b) != a.size {
		return nil, false
	}
	return b, true
}

func (a checksumAlg) mismatch() *Error {
	return newErr(CodeBadDigest, http.StatusBadRequest,
		"The %s you specified did not match the calculated checksum.", a.name)
}

func (a checksumAlg) invalid() *Error {
	return newErr(CodeInvalidRequest, http.StatusBadRequest, "Value for %s header is invalid.", a.header)
}

func errMultipleChecksums() *Error {
	return newErr(CodeInvalidRequest, http.StatusBadRequest,
		"Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.")
}

// checksumCheck is a declared checksum of the payload.
type checksumCheck struct {
	alg  checksumAlg
	want []byte
}

// headerChecksum returns the x-amz-checksum-<alg> request header that checksums the
// body, if any. CompleteMultipartUpload (POST with uploadId) carries the checksum of
// the whole object there, not of its body: it is not checked.
func headerChecksum(r *http.Request, query []queryPair) (*checksumCheck, error) {
	if r.Method == http.MethodPost {
		if _, ok := queryGet(query, "uploadId"); ok {
			return nil, nil
		}
	}
	var found *checksumCheck
	for k, vs := range r.Header {
		lk := strings.ToLower(k)
		if !strings.HasPrefix(lk, "x-amz-checksum-") {
			continue
		}
		alg, ok := checksumAlgByHeader(lk)
		if !ok {
			continue // x-amz-checksum-mode, -type, -algorithm...
		}
		if found != nil || len(vs) != 1 {
			return nil, errMultipleChecksums()
		}
		want, ok := alg.decode(vs[0])
		if !ok {
			return nil, alg.invalid()
		}
		found = &checksumCheck{alg: alg, want: want}
	}
	return found, nil
}

// trailerChecksum returns the checksum algorithm x-amz-trailer announces, if any.
func trailerChecksum(r *http.Request) (*checksumAlg, error) {
	vs := r.Header.Values("X-Amz-Trailer")
	var names []string
	for _, v := range vs {
		for _, n := range strings.Split(v, ",") {
			if n = strings.ToLower(strings.TrimSpace(n)); n != "" {
				names = append(names, n)
			}
		}
	}
	switch len(names) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, errMultipleChecksums()
	}
	alg, ok := checksumAlgByHeader(names[0])
	if !ok {
		return nil, newErr(CodeInvalidRequest, http.StatusBadRequest,
			"The value specified in the x-amz-trailer header is not supported")
	}
	return &alg, nil
}

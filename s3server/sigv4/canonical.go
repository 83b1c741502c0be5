package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// algorithm is the only signing algorithm accepted.
const algorithm = "AWS4-HMAC-SHA256"

// emptySHA256 is hex(sha256("")).
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// queryPair is one decoded query parameter, in the order sent.
type queryPair struct{ key, value string }

// parseQuery splits a raw query into decoded pairs. Unlike url.ParseQuery it keeps
// every pair: an undecodable key or value is kept as sent, so that the canonical
// query string still covers it.
func parseQuery(raw string) []queryPair {
	var ps []queryPair
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, val, _ := strings.Cut(part, "=")
		ps = append(ps, queryPair{key: unescapeQuery(k), value: unescapeQuery(val)})
	}
	return ps
}

func unescapeQuery(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return s
	}
	return u
}

// queryGet returns the first value of key (case-sensitive, as S3 names them).
func queryGet(ps []queryPair, key string) (string, bool) {
	for _, p := range ps {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// uriEncode encodes s per the SigV4 rules: the unreserved characters A-Z a-z 0-9
// - _ . ~ are kept, every other byte becomes %XX (upper-case hex).
func uriEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	n := 0
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) {
			b = append(b, c)
		} else {
			b = append(b, '%', hexDigits[c>>4], hexDigits[c&15])
		}
	}
	return string(b)
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '_' || c == '.' || c == '~'
}

// canonicalQuery is the canonical query string: every pair (but X-Amz-Signature when
// skipSignature) URI-encoded, sorted by key then value, "k=v" joined by "&".
func canonicalQuery(ps []queryPair, skipSignature bool) string {
	enc := make([]queryPair, 0, len(ps))
	for _, p := range ps {
		if skipSignature && p.key == "X-Amz-Signature" {
			continue
		}
		enc = append(enc, queryPair{key: uriEncode(p.key), value: uriEncode(p.value)})
	}
	sort.Slice(enc, func(i, j int) bool {
		if enc[i].key != enc[j].key {
			return enc[i].key < enc[j].key
		}
		return enc[i].value < enc[j].value
	})
	var b strings.Builder
	for i, p := range enc {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.key)
		b.WriteByte('=')
		b.WriteString(p.value)
	}
	return b.String()
}

// canonicalURI is the path as the client sent it: S3 does not normalize nor
// double-encode it.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return p
}

// headerValues returns the values of the lower-case header name as the client sent
// them, restoring what net/http moved out of r.Header (Host, Transfer-Encoding, and
// Content-Length when it is absent).
func headerValues(r *http.Request, name string) []string {
	if name == "host" {
		if r.Host != "" {
			return []string{r.Host}
		}
		return []string{r.URL.Host}
	}
	vs := r.Header.Values(name)
	if len(vs) == 0 {
		vs = r.Header[name] // a non-canonical key set by hand
	}
	if len(vs) > 0 {
		return vs
	}
	switch name {
	case "content-length":
		if r.ContentLength >= 0 {
			return []string{strconv.FormatInt(r.ContentLength, 10)}
		}
	case "transfer-encoding":
		if len(r.TransferEncoding) > 0 {
			return []string{strings.Join(r.TransferEncoding, ",")}
		}
	}
	return nil
}

// trimHeaderValue trims leading and trailing spaces and collapses sequential spaces.
func trimHeaderValue(s string) string {
	s = strings.TrimSpace(s)
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(c)
	}
	return b.String()
}

// canonicalRequest builds the SigV4 canonical request.
func canonicalRequest(r *http.Request, query []queryPair, presigned bool, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method)
	b.WriteByte('\n')
	b.WriteString(canonicalURI(r.URL))
	b.WriteByte('\n')
	b.WriteString(canonicalQuery(query, presigned))
	b.WriteByte('\n')
	for _, name := range signed {
		b.WriteString(name)
		b.WriteByte(':')
		for i, v := range headerValues(r, name) {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimHeaderValue(v))
		}
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	b.WriteString(strings.Join(signed, ";"))
	b.WriteByte('\n')
	b.WriteString(payloadHash)
	return b.String()
}

// stringToSign builds the string to sign of a request.
func stringToSign(amzDate, scope, canonical string) string {
	h := sha256.Sum256([]byte(canonical))
	return algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(h[:])
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

// signingKey derives the SigV4 signing key of a scope.
func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

// signatureOK reports whether sigHex is the hex HMAC of sts under key, in constant time.
func signatureOK(key []byte, sts, sigHex string) bool {
	want := hmacSHA256(key, sts)
	got, err := hex.DecodeString(sigHex)
	if err != nil {
		return false
	}
	return hmac.Equal(want, got)
}

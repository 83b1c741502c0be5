package store

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"
)

// ErrInvalidKey is returned for an object key the store cannot hold: empty, containing
// a NUL byte, not valid UTF-8 (then it also wraps ErrKeyNotUTF8), or longer than
// MaxKeyLength. Also for a version id containing a NUL byte.
var ErrInvalidKey = errors.New("store: invalid object key")

// ErrKeyNotUTF8 is wrapped with ErrInvalidKey for a key that is not valid UTF-8: S3 keys
// are UTF-8, and listings could not name such a key.
var ErrKeyNotUTF8 = errors.New("key is not valid UTF-8")

// MaxKeyLength is the longest object key the store accepts, in bytes (S3 itself limits
// keys to 1024 bytes; handlers may enforce that).
const MaxKeyLength = 16 << 10

// Version ids and order keys.
//
// The versions of a key are stored under key "\x00" orderKey and ordered by orderKey, so
// that a cursor walks keys ascending and, within a key, versions newest first. A version
// id the store generates IS its order key: 16 hex digits of (MaxUint64 - unix nanos)
// followed by 16 hex digits of (MaxUint64 - journal seq of the write). The nanos never go
// backwards (a persisted clock) and the seq is unique, so ids are unique and a newer
// version sorts first. Versions whose id is not such an id (the null version, replicas of
// foreign ids) get a generated or derived order key and an alias entry
// key "\x00" versionID → orderKey.

const genIDLen = 32

// isGenID tells whether id has the shape of a generated version id (which is then its own
// order key).
func isGenID(id string) bool {
	if len(id) != genIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// IsIssuedVersionID tells whether id has the shape of a version id a store issues: the
// null version's, or a generated one. Replicas may carry other (foreign) ids.
func IsIssuedVersionID(id string) bool { return id == NullVersionID || isGenID(id) }

// formatOrder formats a generated order key.
func formatOrder(nanos, seq uint64) string {
	var b [genIDLen]byte
	hex16(b[:16], math.MaxUint64-nanos)
	hex16(b[16:], math.MaxUint64-seq)
	return string(b[:])
}

func hex16(dst []byte, v uint64) {
	const digits = "0123456789abcdef"
	for i := 15; i >= 0; i-- {
		dst[i] = digits[v&0xf]
		v >>= 4
	}
}

// orderNanos returns the nanos of a generated order key (ok false for another shape).
func orderNanos(order []byte) (uint64, bool) {
	if len(order) < 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(string(order[:16]), 16, 64)
	if err != nil {
		return 0, false
	}
	return math.MaxUint64 - v, true
}

// derivedOrder is the order key of a replica whose version id is not a generated id:
// derived from its last-modified time, placed after any generated id of the same
// nanosecond; foreign ids are appended to keep order keys unique.
func derivedOrder(versionID string, lastModified time.Time) string {
	nanos := uint64(max(lastModified.UnixNano(), 0))
	o := formatOrder(nanos, 0)
	if versionID != NullVersionID {
		o += "." + versionID
	}
	return o
}

// newOrder generates the order key (and id) of a new version of key written by this
// transaction's next journal record. It sorts before every existing version of key.
func (w *wtx) newOrder(vb *bolt.Bucket, key string) string {
	nanos := max(uint64(max(w.now().UnixNano(), 0)), w.clock)
	w.clock = nanos
	// A replica written with a source time ahead of this clock may be the key's first
	// version: go past it for this key only (the seq keeps the id unique).
	prefix := keyPrefix(key)
	if k, _ := vb.Cursor().Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) {
		if first, ok := orderNanos(k[len(prefix):]); ok && nanos <= first {
			nanos = first + 1
		}
	}
	return formatOrder(nanos, w.head+1)
}

// checkKey validates an object key.
func checkKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeyLength:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidKey, MaxKeyLength)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("%w: contains a NUL byte", ErrInvalidKey)
	case !utf8.ValidString(key):
		return fmt.Errorf("%w: %w", ErrInvalidKey, ErrKeyNotUTF8)
	}
	return nil
}

// keyPrefix is key "\x00": the prefix of every version entry of key.
func keyPrefix(key string) []byte {
	b := make([]byte, 0, len(key)+1)
	b = append(b, key...)
	return append(b, 0)
}

// versionKey is the db key of a version entry or alias: key "\x00" suffix.
func versionKey(key, suffix string) []byte {
	b := make([]byte, 0, len(key)+1+len(suffix))
	b = append(b, key...)
	b = append(b, 0)
	return append(b, suffix...)
}

// splitVersionKey splits a db key into the object key and order key.
func splitVersionKey(k []byte) (key, order []byte) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return k, nil
	}
	return k[:i], k[i+1:]
}

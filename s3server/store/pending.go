package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// waiting tells whether a replication status still waits for the engine (PENDING or
// PROCESSING).
func waiting(status bbproto.Status) bool { return status.Waiting() }

// stamp records now as the time the status of a new replication info was set (nil: no-op).
func stamp(r *Replication, now time.Time) {
	if r == nil {
		return
	}
	r.StatusTime = now
	r.PendingSince = time.Time{}
	if waiting(r.Status) {
		r.PendingSince = now
	}
}

// setStatus writes status at now: StatusTime is now; PendingSince is kept while the
// version stays PENDING or PROCESSING, set to now when it starts waiting, cleared when it
// stops.
func setStatus(r *Replication, status bbproto.Status, now time.Time) {
	switch {
	case !waiting(status):
		r.PendingSince = time.Time{}
	case !waiting(r.Status) || r.PendingSince.IsZero():
		r.PendingSince = now
	}
	r.Status, r.StatusTime = status, now
}

// pendingSince is PendingSince while r waits, else zero (nil-safe).
func pendingSince(r *Replication) time.Time {
	if r == nil || !waiting(r.Status) {
		return time.Time{}
	}
	return r.PendingSince
}

// Limits of ListPending.
const (
	// DefaultPendingLimit is ListPending's default PendingOptions.Limit.
	DefaultPendingLimit = 1000
	// MaxPendingLimit caps PendingOptions.Limit.
	MaxPendingLimit = 10000
	// DefaultPendingScan is ListPending's default PendingOptions.MaxScan.
	DefaultPendingScan = 100000
)

// PendingOptions select the versions ListPending returns.
type PendingOptions struct {
	// Bucket to scan; "" scans every bucket, in name order.
	Bucket string
	// Prefix of the keys to scan (with Bucket only). Default "": every key.
	Prefix string
	// OlderThan keeps the versions whose status was written at least that long ago (by
	// the store's clock). Default 0: every PENDING or PROCESSING version.
	OlderThan time.Duration
	// After is the Next of the previous page. Default "": from the start.
	After string
	// Limit bounds the versions returned (1 to MaxPendingLimit). Default
	// DefaultPendingLimit.
	Limit int
	// MaxScan bounds the waiting versions (index entries, whatever their age) examined
	// by one call (a page may end early, with Next set, when it is reached). Default
	// DefaultPendingScan.
	MaxScan int
}

// ErrInvalidCursor is returned by ListPending for an After it did not make.
var ErrInvalidCursor = errors.New("store: invalid pending-listing cursor")

// ListPending lists the versions whose replication status is PENDING or PROCESSING and
// was written at least OlderThan ago: what the engine has not finished, to re-drive
// (Redrive) or to measure. It reads only the index of waiting versions (pending_index.go),
// in bucket, key, newest-version order: its cost follows the number of waiting versions
// examined, not the number of versions stored. One call examines at most MaxScan index
// entries (waiting versions, whatever their age) in one read transaction; Scanned counts
// them, and Oldest and Waiting describe them per bucket. A page ends when Limit versions
// are listed or MaxScan entries examined, with Next set when entries remain: continue
// with After = Next (an opaque cursor; ErrInvalidCursor for one ListPending did not make).
func (s *Store) ListPending(ctx context.Context, o PendingOptions) (*bbproto.PendingPage, error) {
	if o.Limit == 0 {
		o.Limit = DefaultPendingLimit
	}
	if o.MaxScan <= 0 {
		o.MaxScan = DefaultPendingScan
	}
	if o.Limit < 1 || o.Limit > MaxPendingLimit {
		return nil, fmt.Errorf("store: pending limit %d is not within 1-%d", o.Limit, MaxPendingLimit)
	}
	if o.Bucket == "" && o.Prefix != "" {
		return nil, errors.New("store: a pending listing by prefix needs a bucket")
	}
	afterBucket, afterKey, err := decodePendingCursor(o.After)
	if err != nil {
		return nil, err
	}
	cutoff := s.now().Add(-o.OlderThan)
	page := &bbproto.PendingPage{Versions: []bbproto.PendingVersion{}, Oldest: map[string]time.Time{}, Waiting: map[string]int{}}
	err = s.view(ctx, func(tx *bolt.Tx) error {
		buckets := []string{o.Bucket}
		if o.Bucket == "" {
			buckets = nil
			c := tx.Bucket(bktData).Cursor()
			for k, _ := c.Seek([]byte(afterBucket)); k != nil; k, _ = c.Next() {
				buckets = append(buckets, string(k))
			}
		} else if afterBucket != "" && afterBucket != o.Bucket {
			return fmt.Errorf("%w: it belongs to another bucket", ErrInvalidCursor)
		}
		for _, bucket := range buckets {
			d, err := openBucketData(tx.Bucket(bktData), bucket)
			if err != nil {
				return err
			}
			c := d.waiting.Cursor()
			prefix := []byte(o.Prefix)
			k, raw := c.Seek(prefix)
			if bucket == afterBucket && bytes.Compare(afterKey, prefix) > 0 {
				k, raw = c.Seek(afterKey)
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, raw = c.Next() {
				if page.Scanned >= o.MaxScan || len(page.Versions) >= o.Limit {
					page.Next = encodePendingCursor(bucket, k)
					return nil
				}
				page.Scanned++
				var e waitEntry
				if err := json.Unmarshal(raw, &e); err != nil {
					key, _ := splitVersionKey(k)
					return fmt.Errorf("store: %s/%s: decode its entry in the index of waiting versions: %w", bucket, key, err)
				}
				pv := e.pendingVersion(bucket, k)
				page.Waiting[bucket]++
				if old, ok := page.Oldest[bucket]; !ok || pv.Since.Before(old) {
					page.Oldest[bucket] = pv.Since
				}
				set := pv.StatusTime
				if set.IsZero() {
					set = pv.Since
				}
				if !set.After(cutoff) {
					page.Versions = append(page.Versions, pv)
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// encodePendingCursor makes a ListPending cursor: the listing goes on at db key k of
// bucket (k included).
func encodePendingCursor(bucket string, k []byte) string {
	return base64.RawURLEncoding.EncodeToString(append(append([]byte(bucket), 0), k...))
}

// decodePendingCursor reads a cursor: the bucket and the db key (key "\x00" order) to
// start at (included).
func decodePendingCursor(c string) (bucket string, key []byte, err error) {
	if c == "" {
		return "", nil, nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return "", nil, fmt.Errorf("%w: %w", ErrInvalidCursor, err)
	}
	i := bytes.IndexByte(raw, 0)
	if i < 1 {
		return "", nil, fmt.Errorf("%w: it names no bucket", ErrInvalidCursor)
	}
	if bytes.IndexByte(raw[i+1:], 0) < 1 {
		return "", nil, fmt.Errorf("%w: it names no version", ErrInvalidCursor)
	}
	return string(raw[:i]), raw[i+1:], nil
}

// Redrive writes PENDING again, in ONE transaction, on each named version that still
// waits (PENDING or PROCESSING) with the status time given: the change is journaled (op
// "status", status PENDING, a new seq), so the journal's readers carry the version
// through the engine again. Its PendingSince is kept. A version that changed since it
// was listed (COMPLETED meanwhile, or re-driven by another caller) or is gone is left
// alone and said so. At most bbproto.MaxRedrive refs.
func (s *Store) Redrive(ctx context.Context, refs []bbproto.RedriveRef) ([]bbproto.RedriveResult, error) {
	if len(refs) > bbproto.MaxRedrive {
		return nil, fmt.Errorf("store: %d versions to re-drive, at most %d per call", len(refs), bbproto.MaxRedrive)
	}
	out := make([]bbproto.RedriveResult, len(refs))
	err := s.update(ctx, func(w *wtx) error {
		for i, ref := range refs {
			out[i] = bbproto.RedriveResult{Bucket: ref.Bucket, Key: ref.Key, VersionID: ref.VersionID, Outcome: bbproto.RedriveGone}
			if ref.VersionID == "" || checkKey(ref.Key) != nil {
				continue
			}
			_, d, err := w.bucket(ref.Bucket)
			if errors.Is(err, ErrNoSuchBucket) {
				continue
			}
			if err != nil {
				return err
			}
			v, order, err := d.find(ref.Bucket, ref.Key, ref.VersionID)
			if errors.Is(err, ErrNoSuchKey) || errors.Is(err, ErrNoSuchVersion) {
				continue
			}
			if err != nil {
				return err
			}
			if v.Replication == nil || !waiting(v.Replication.Status) || !v.Replication.StatusTime.Equal(ref.StatusTime) {
				out[i].Outcome = bbproto.RedriveChanged
				continue
			}
			setStatus(v.Replication, bbproto.StatusPending, w.now())
			if err := w.putVersion(d, ref.Key, order, v); err != nil {
				return err
			}
			if err := w.appendRecord(recordOf(bbproto.OpStatus, v)); err != nil {
				return err
			}
			out[i].Outcome = bbproto.RedriveDone
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

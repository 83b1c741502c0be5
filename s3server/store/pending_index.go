package store

// The index of waiting versions.
//
// Each bucket's data holds, next to its versions (data/<bucket>/v), an index of the
// versions that wait for the engine (data/<bucket>/w): one entry per version whose
// replication status is PENDING or PROCESSING, under the same db key as the version
// (key "\x00" orderKey, so the index is in ListObjectVersions order), holding what
// ListPending answers (a waitEntry). ListPending reads only the index: its cost follows
// the number of waiting versions, not the number of versions.
//
// Every write of a version goes through putVersion and every removal through
// delVersion, which update the index in the same transaction; deleting a bucket drops
// its index with its data. A store written before the index existed (no metaFormat in
// the meta bucket) gets its index built once by Open.

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

var (
	// bktWaiting is the nested bucket of data/<bucket name> indexing its waiting
	// versions: key "\x00" orderKey → waitEntry JSON.
	bktWaiting = []byte("w")
	// metaFormat is the meta key holding the store's format (big-endian uint64).
	metaFormat = []byte("format")
)

// formatPendingIndex is the first format with the index of waiting versions; stores
// without a format predate it.
const formatPendingIndex = 1

// waitEntry is the index entry of a waiting version: the fields ListPending answers
// that its db key does not hold.
type waitEntry struct {
	VersionID      string         `json:"i"`
	IsDeleteMarker bool           `json:"d,omitempty"`
	LastModified   time.Time      `json:"m"`
	Status         bbproto.Status `json:"s"`
	StatusTime     time.Time      `json:"t,omitzero"`
	PendingSince   time.Time      `json:"p,omitzero"`
}

// waitEntryOf is the index entry of v, nil when v does not wait.
func waitEntryOf(v *Version) *waitEntry {
	r := v.Replication
	if r == nil || !waiting(r.Status) {
		return nil
	}
	return &waitEntry{VersionID: v.VersionID, IsDeleteMarker: v.IsDeleteMarker, LastModified: v.LastModified,
		Status: r.Status, StatusTime: r.StatusTime, PendingSince: r.PendingSince}
}

// pendingVersion is the listing of the version of bucket at db key k (key "\x00" order)
// that e indexes.
func (e *waitEntry) pendingVersion(bucket string, k []byte) bbproto.PendingVersion {
	key, _ := splitVersionKey(k)
	pv := bbproto.PendingVersion{Bucket: bucket, Key: string(key), VersionID: e.VersionID, IsDeleteMarker: e.IsDeleteMarker,
		LastModified: e.LastModified, Status: e.Status, StatusTime: e.StatusTime, Since: e.PendingSince}
	if pv.Since.IsZero() {
		pv.Since = e.StatusTime
	}
	if pv.Since.IsZero() {
		pv.Since = e.LastModified
	}
	return pv
}

// putVersion writes v as the version of key at order in d, and its index entry (added,
// rewritten or removed as v waits or not).
func (w *wtx) putVersion(d *bucketData, key, order string, v *Version) error {
	k := versionKey(key, order)
	if err := w.putJSON(d.versions, k, v); err != nil {
		return err
	}
	if e := waitEntryOf(v); e != nil {
		return w.putJSON(d.waiting, k, e)
	}
	return w.del(d.waiting, k)
}

// delVersion removes the version of key at order from d, and its index entry.
func (w *wtx) delVersion(d *bucketData, key, order string) error {
	k := versionKey(key, order)
	if err := w.del(d.versions, k); err != nil {
		return err
	}
	return w.del(d.waiting, k)
}

// pendingMarkers pre-filter stored versions when the index is built: only those holding
// one can wait.
var pendingMarkers = [][]byte{[]byte(`"status":"` + bbproto.StatusPending + `"`), []byte(`"status":"` + bbproto.StatusProcessing + `"`)}

// buildPendingIndex (re)builds the index of waiting versions of every bucket, for a
// store written before the index existed, and records the format. It reads every
// version once.
func buildPendingIndex(tx *bolt.Tx) error {
	data := tx.Bucket(bktData)
	var names [][]byte
	err := data.ForEach(func(k, _ []byte) error {
		names = append(names, slices.Clone(k))
		return nil
	})
	if err != nil {
		return err
	}
	for _, name := range names {
		root := data.Bucket(name)
		if root == nil {
			return fmt.Errorf("bucket %s: its data is not a nested bucket", name)
		}
		if root.Bucket(bktWaiting) != nil {
			if err := root.DeleteBucket(bktWaiting); err != nil {
				return fmt.Errorf("bucket %s: drop the index of waiting versions: %w", name, err)
			}
		}
		idx, err := root.CreateBucket(bktWaiting)
		if err != nil {
			return fmt.Errorf("bucket %s: create the index of waiting versions: %w", name, err)
		}
		versions := root.Bucket(bktVersions)
		if versions == nil {
			return fmt.Errorf("bucket %s: metadata is missing sub-buckets", name)
		}
		err = versions.ForEach(func(k, raw []byte) error {
			if !slices.ContainsFunc(pendingMarkers, func(m []byte) bool { return bytes.Contains(raw, m) }) {
				return nil
			}
			v, err := decodeVersion(raw)
			if err != nil {
				key, _ := splitVersionKey(k)
				return fmt.Errorf("%s/%s: %w", name, key, err)
			}
			e := waitEntryOf(v)
			if e == nil {
				return nil // a user metadata value looked like a status
			}
			val, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("encode an index entry: %w", err)
			}
			return idx.Put(slices.Clone(k), val)
		})
		if err != nil {
			return fmt.Errorf("bucket %s: index the waiting versions: %w", name, err)
		}
	}
	return tx.Bucket(bktMeta).Put(metaFormat, u64(formatPendingIndex))
}

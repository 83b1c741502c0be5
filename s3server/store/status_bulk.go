package store

import (
	"github.com/backbeat-temporal/backbeat/bbproto"

	"context"
	"errors"
	"fmt"
)

// MaxStatusUpdates bounds the versions of one SetReplicationStatuses call (one
// transaction).
const MaxStatusUpdates = bbproto.MaxBulkStatuses

// StatusUpdate is one version's status to write (SetReplicationStatuses).
type StatusUpdate struct {
	Bucket, Key, VersionID string
	// Status is PENDING, PROCESSING, COMPLETED or FAILED.
	Status bbproto.Status
	// Reason is kept for FAILED.
	Reason string
	// IfUnset writes only when the version has no replication status and, for PENDING,
	// when the bucket's policy (its Enabled rules) selects it; else the result's Err is a
	// *StatusAlreadySetError or ErrNoMatchingRule. Default false.
	IfUnset bool
}

// StatusResult is what SetReplicationStatuses did to one version: Version is the
// updated version, or Err says why it was not written (ErrNoSuchBucket,
// ErrNoSuchVersion, ErrInvalidKey, an invalid status; with IfUnset a
// *StatusAlreadySetError or ErrNoMatchingRule).
type StatusResult struct {
	Version *Version
	Err     error
}

// SetReplicationStatuses writes many statuses in ONE transaction (one fsync), each as
// SetReplicationStatus does (journaled, status and pending times kept right). A version
// that cannot be written (missing bucket or version, invalid key or status, versionID
// "") is left alone and its result says why; the others are written. The error is
// for the whole call (the store failed or is closed, too many updates): nothing was
// written. At most MaxStatusUpdates updates.
func (s *Store) SetReplicationStatuses(ctx context.Context, updates []StatusUpdate) ([]StatusResult, error) {
	if len(updates) > MaxStatusUpdates {
		return nil, fmt.Errorf("store: %d status updates, at most %d per call", len(updates), MaxStatusUpdates)
	}
	out := make([]StatusResult, len(updates))
	err := s.update(ctx, func(w *wtx) error {
		for i, u := range updates {
			out[i] = StatusResult{}
			switch {
			case !u.Status.Settable():
				out[i].Err = fmt.Errorf("store: invalid replication status %q", u.Status)
				continue
			case u.VersionID == "":
				out[i].Err = fmt.Errorf("%w: a status update needs a versionId (%s/%s)", ErrNoSuchVersion, u.Bucket, u.Key)
				continue
			}
			if err := checkKey(u.Key); err != nil {
				out[i].Err = err
				continue
			}
			v, err := w.setStatus(u.Bucket, u.Key, u.VersionID, u.Status, u.Reason, u.IfUnset)
			var already *StatusAlreadySetError
			if errors.Is(err, ErrNoSuchBucket) || errors.Is(err, ErrNoSuchVersion) || errors.Is(err, ErrNoSuchKey) ||
				errors.Is(err, ErrNoMatchingRule) || errors.As(err, &already) {
				out[i].Err = err
				continue
			}
			if err != nil {
				return err
			}
			out[i].Version = v
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

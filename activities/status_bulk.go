package activities

// Bulk status writes through s3server's bulk status route (PUT /_/backbeat/status,
// bbproto.BulkStatusBody, bbclient.SetStatuses).

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// StatusUpdate is one status to write with SetStatuses.
type StatusUpdate struct {
	Bucket, Key, VersionID string
	// Status is bbproto.StatusCompleted, StatusFailed...
	Status bbproto.Status
	// Reason is that of a failure.
	Reason string
}

// StatusResult is the result of one StatusUpdate: the version's last-modified time,
// or Err (an *Error).
type StatusResult struct {
	LastModified time.Time
	Err          error
}

// MaxStatusesPerRequest bounds the statuses of one request of the bulk route (its
// body is at most 1 MiB and a reason at most MaxStatusReason bytes).
const MaxStatusesPerRequest = 256

// SetStatuses writes many replication statuses on source versions with s3server's
// bulk status route: one request (and one store transaction) per MaxStatusesPerRequest
// updates. A version the source refuses gets its own error in its result (e.g.
// KindSourceGone); the error returned is for the whole call (the source unreachable...:
// an *Error, nothing known to be written) and then no result is given.
func (r *Replicator) SetStatuses(ctx context.Context, updates []StatusUpdate) ([]StatusResult, error) {
	out := make([]StatusResult, 0, len(updates))
	for start := 0; start < len(updates); start += MaxStatusesPerRequest {
		chunk := updates[start:min(start+MaxStatusesPerRequest, len(updates))]
		res, err := r.setStatusChunk(ctx, chunk)
		if err != nil {
			return nil, err
		}
		out = append(out, res...)
	}
	return out, nil
}

func (r *Replicator) setStatusChunk(ctx context.Context, updates []StatusUpdate) ([]StatusResult, error) {
	items := make([]bbproto.BulkStatusItem, len(updates))
	for i, u := range updates {
		items[i] = bbproto.BulkStatusItem{Bucket: u.Bucket, Key: u.Key, VersionID: u.VersionID, Status: u.Status, Reason: statusReason(u.Reason)}
	}
	results, err := r.srcBB.SetStatuses(ctx, items)
	if err != nil {
		return nil, classify(err, side{source: true, site: r.source}, fmt.Sprintf("set %d statuses", len(updates)))
	}
	out := make([]StatusResult, len(updates))
	for i, res := range results {
		u := updates[i]
		if res.Code == "" {
			out[i].LastModified = res.LastModified
			continue
		}
		status := http.StatusBadRequest
		if res.Code == "NoSuchVersion" || res.Code == "NoSuchKey" || res.Code == "NoSuchBucket" {
			status = http.StatusNotFound
		}
		out[i].Err = classify(&bbproto.Error{Status: status, Code: res.Code, Message: res.Message}, side{source: true, site: r.source, bucket: u.Bucket},
			fmt.Sprintf("set status %s of %s/%s version %s", u.Status, u.Bucket, u.Key, u.VersionID))
	}
	r.log.Debug("statuses set", "count", len(updates))
	return out, nil
}

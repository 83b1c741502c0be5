package activities

// The client of s3server's bulk status route (PUT /_/backbeat/status, see
// s3server/backbeat_bulk.go) and its wire types.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/backbeat-temporal/backbeat/contract"
)

// bulkStatusBody is the body of the bulk status route.
type bulkStatusBody struct {
	Statuses []bulkStatusItem `json:"statuses"`
}

// bulkStatusItem is one version's status in a bulk status request.
type bulkStatusItem struct {
	Bucket    string `json:"bucket"`
	Key       string `json:"key"`
	VersionID string `json:"versionId"`
	Status    string `json:"status"`
	Reason    string `json:"reason,omitempty"`
}

// bulkStatusAnswer is the answer of the bulk status route.
type bulkStatusAnswer struct {
	Results []struct {
		Status       string    `json:"status"`
		LastModified time.Time `json:"lastModified"`
		Code         string    `json:"code"`
		Message      string    `json:"message"`
	} `json:"results"`
}

// StatusUpdate is one status to write with SetStatuses.
type StatusUpdate struct {
	Bucket, Key, VersionID string
	// Status is journal.StatusCompleted, StatusFailed...; Reason that of a failure.
	Status, Reason string
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
	body := bulkStatusBody{Statuses: make([]bulkStatusItem, len(updates))}
	for i, u := range updates {
		body.Statuses[i] = bulkStatusItem{Bucket: u.Bucket, Key: u.Key, VersionID: u.VersionID, Status: u.Status, Reason: statusReason(u.Reason)}
	}
	data, err := json.Marshal(body)
	if err != nil {
		return nil, newError(contract.KindInvalidEntry, fmt.Sprintf("encode %d statuses", len(updates)), err)
	}
	var ans bulkStatusAnswer
	err = r.srcBB.doJSON(ctx, bbRequest{method: http.MethodPut, route: "status",
		header: http.Header{"Content-Type": {"application/json"}}, body: bytes.NewReader(data), length: int64(len(data))}, &ans)
	if err != nil {
		return nil, classify(err, side{source: true, site: r.source}, fmt.Sprintf("set %d statuses", len(updates)))
	}
	if len(ans.Results) != len(updates) {
		return nil, newError(contract.KindRetryable, fmt.Sprintf("set %d statuses: the source answered %d results; is it an s3server with the bulk status route?", len(updates), len(ans.Results)), nil)
	}
	out := make([]StatusResult, len(updates))
	for i, res := range ans.Results {
		u := updates[i]
		if res.Code == "" {
			out[i].LastModified = res.LastModified
			continue
		}
		status := http.StatusBadRequest
		if res.Code == "NoSuchVersion" || res.Code == "NoSuchKey" || res.Code == "NoSuchBucket" {
			status = http.StatusNotFound
		}
		out[i].Err = classify(&S3Error{Status: status, Code: res.Code, Message: res.Message}, side{source: true, site: r.source, bucket: u.Bucket},
			fmt.Sprintf("set status %s of %s/%s version %s", u.Status, u.Bucket, u.Key, u.VersionID))
	}
	r.log.Debug("statuses set", "count", len(updates))
	return out, nil
}

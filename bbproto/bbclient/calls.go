package bbclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/backbeat-temporal/backbeat/bbproto"
)

// Version reads a version or delete marker of bucket/key with its replication info
// (versionID "": the latest).
func (c *Client) Version(ctx context.Context, bucket, key, versionID string) (*bbproto.Version, error) {
	var q url.Values
	if versionID != "" {
		q = url.Values{"versionId": {versionID}}
	}
	var v bbproto.Version
	if err := c.DoJSON(ctx, Request{Method: http.MethodGet, Route: bbproto.RouteVersion, Bucket: bucket, Key: key, Query: q}, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// SetStatus writes the replication status of a version (with the reason of a FAILED
// one) and returns the version as updated.
func (c *Client) SetStatus(ctx context.Context, bucket, key, versionID string, status bbproto.Status, reason string) (*bbproto.Version, error) {
	body, err := json.Marshal(bbproto.StatusBody{Status: status, Reason: reason})
	if err != nil {
		return nil, fmt.Errorf("encode status %s: %w", status, err)
	}
	var v bbproto.Version
	err = c.DoJSON(ctx, Request{Method: http.MethodPut, Route: bbproto.RouteStatus, Bucket: bucket, Key: key,
		Query: url.Values{"versionId": {versionID}}, Header: http.Header{"Content-Type": {"application/json"}},
		Body: bytes.NewReader(body), Length: int64(len(body))}, &v)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

// SetStatuses writes the statuses of many versions with one PUT status (bulk) request
// (at most bbproto.MaxBulkStatuses items): one result per item, in order. A version
// the server refuses gets a Code in its result; the error is for the whole request.
func (c *Client) SetStatuses(ctx context.Context, items []bbproto.BulkStatusItem) ([]bbproto.BulkStatusResult, error) {
	body, err := json.Marshal(bbproto.BulkStatusBody{Statuses: items})
	if err != nil {
		return nil, fmt.Errorf("encode %d statuses: %w", len(items), err)
	}
	var ans bbproto.BulkStatusAnswer
	err = c.DoJSON(ctx, Request{Method: http.MethodPut, Route: bbproto.RouteStatus,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.NewReader(body), Length: int64(len(body))}, &ans)
	if err != nil {
		return nil, err
	}
	if len(ans.Results) != len(items) {
		return nil, fmt.Errorf("set %d statuses: the server answered %d results (is it an s3server with the bulk status route?)", len(items), len(ans.Results))
	}
	return ans.Results, nil
}

// PendingQuery selects the versions Pending lists.
type PendingQuery struct {
	// Bucket to list; "" lists every bucket.
	Bucket string
	// Prefix of the keys (needs Bucket). Default "": every key.
	Prefix string
	// OlderThan keeps the versions whose status was written at least that long ago.
	// Default 0: every PENDING or PROCESSING version.
	OlderThan time.Duration
	// After is the Next of the previous page. Default "": from the start.
	After string
	// Limit bounds the versions of the page. Default 0: the server's (1000).
	Limit int
}

// Pending lists one page of the versions whose replication waits.
func (c *Client) Pending(ctx context.Context, q PendingQuery) (*bbproto.PendingPage, error) {
	v := url.Values{}
	for k, s := range map[string]string{"bucket": q.Bucket, "prefix": q.Prefix, "after": q.After} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if q.OlderThan > 0 {
		v.Set("olderThan", q.OlderThan.String())
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var page bbproto.PendingPage
	if err := c.DoJSON(ctx, Request{Method: http.MethodGet, Route: bbproto.RoutePending, Query: v}, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Redrive journals PENDING again on the versions that still wait with the status time
// they were listed with, at most bbproto.MaxRedrive per call. The results are in the
// order of refs.
func (c *Client) Redrive(ctx context.Context, refs []bbproto.RedriveRef) ([]bbproto.RedriveResult, error) {
	body, err := json.Marshal(bbproto.RedriveBody{Versions: refs})
	if err != nil {
		return nil, fmt.Errorf("encode the versions to re-drive: %w", err)
	}
	var out bbproto.RedriveAnswer
	err = c.DoJSON(ctx, Request{Method: http.MethodPost, Route: bbproto.RouteRedrive,
		Header: http.Header{"Content-Type": {"application/json"}}, Body: bytes.NewReader(body), Length: int64(len(body))}, &out)
	if err != nil {
		return nil, err
	}
	if len(out.Results) != len(refs) {
		return nil, fmt.Errorf("redrive route answered %d results for %d versions", len(out.Results), len(refs))
	}
	return out.Results, nil
}

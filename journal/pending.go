package journal

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/backbeat-temporal/backbeat/bbproto"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// PendingQuery selects the versions Pending lists (s3server's pending route).
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

// CountOutcomes adds the outcomes of results to the counts of re-driven, changed and
// gone versions, and returns them.
func CountOutcomes(results []bbproto.RedriveResult, redriven, changed, gone int) (int, int, int) {
	for _, r := range results {
		switch r.Outcome {
		case bbproto.RedriveDone:
			redriven++
		case bbproto.RedriveChanged:
			changed++
		default:
			gone++
		}
	}
	return redriven, changed, gone
}

// Pending lists one page of the versions whose replication waits (GET
// /_/backbeat/pending).
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
		v.Set("limit", fmt.Sprint(q.Limit))
	}
	var page bbproto.PendingPage
	if err := c.call(ctx, http.MethodGet, "pending?"+v.Encode(), nil, &page); err != nil {
		return nil, err
	}
	return &page, nil
}

// Redrive journals PENDING again on the versions that still wait with the status time
// they were listed with (POST /_/backbeat/redrive), at most bbproto.MaxRedrive per call: ingest
// then carries them through the engine again. The results are in the order of vs.
func (c *Client) Redrive(ctx context.Context, vs []bbproto.PendingVersion) ([]bbproto.RedriveResult, error) {
	refs := make([]bbproto.RedriveRef, len(vs))
	for i, v := range vs {
		refs[i] = bbproto.RedriveRef{Bucket: v.Bucket, Key: v.Key, VersionID: v.VersionID, StatusTime: v.StatusTime}
	}
	body, err := json.Marshal(bbproto.RedriveBody{Versions: refs})
	if err != nil {
		return nil, fmt.Errorf("encode the versions to re-drive: %w", err)
	}
	var out bbproto.RedriveAnswer
	if err := c.call(ctx, http.MethodPost, "redrive", body, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(vs) {
		return nil, fmt.Errorf("redrive route answered %d results for %d versions", len(out.Results), len(vs))
	}
	return out.Results, nil
}

// call sends a signed request to /_/backbeat/route and decodes the JSON answer into out.
func (c *Client) call(ctx context.Context, method, route string, body []byte, out any) error {
	u := strings.TrimRight(c.Endpoint, "/") + "/_/backbeat/" + route
	req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s request: %w", route, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if err := c.sign(ctx, req); err != nil {
		return err
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s at %s: %w", method, route, c.Endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return fmt.Errorf("read the answer of %s %s: %w", method, route, err)
	}
	if resp.StatusCode != http.StatusOK {
		name, _, _ := strings.Cut(route, "?")
		return &StatusError{Status: resp.StatusCode, Body: strings.TrimSpace(cut(data)), Route: name}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decode the answer of %s %s: %w", method, route, err)
	}
	return nil
}
